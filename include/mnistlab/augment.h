#pragma once
// Training-time augmentation with torchvision's vocabulary and semantics,
// applied in torchvision's usual order:
//   RandomCrop(size, padding=p) -> RandomAffine(degrees, translate, scale,
//   shear) -> ElasticTransform(alpha, sigma) -> RandomHorizontalFlip(0.5)
//   -> ToTensor -> RandomErasing(p)
// Each image's parameters come from its own stream, fixed by (seed, epoch,
// position in the epoch), so a batch is the same whichever thread makes it
// and a resumed run sees the same images.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mnistlab/names.h"
#include "mnistlab/rng.h"

namespace mnistlab {

// RandomAffine's interpolation (torchvision's default is nearest).
enum class Interpolation { Nearest, Bilinear };
inline constexpr Named<Interpolation> kInterpolationNames[] = {{"nearest", Interpolation::Nearest},
                                                               {"bilinear", Interpolation::Bilinear}};

struct AugmentOptions {
  int crop_padding = 0;                 // RandomCrop(size, padding=p), zero fill
  double degrees = 0;                   // RandomAffine(degrees=d): angle in [-d, d], counter-clockwise
  double translate = 0;                 // RandomAffine(translate=(t, t)): up to t * width (height), rounded
  double scale_min = 1, scale_max = 1;  // RandomAffine(scale=(lo, hi))
  double shear = 0;                     // RandomAffine(shear=s): x shear in [-s, s] degrees
  Interpolation interpolation = Interpolation::Nearest;
  double elastic_alpha = 0;             // ElasticTransform(alpha, sigma), bilinear (its default); 0: none
  double elastic_sigma = 5;
  bool hflip = false;                   // RandomHorizontalFlip(p=0.5)
  double erase = 0;                     // RandomErasing(p, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0)
  bool any() const;
  bool affine() const;
  bool elastic() const { return elastic_alpha > 0; }
};

// "crop=2,degrees=10,translate=0.1,scale=0.9:1.1,shear=5,bilinear,elastic=50:5,hflip,erase=0.5"
// (any subset, any order; "" or "none": no augmentation). Throws Error
// naming the item and what was expected.
AugmentOptions parse_augment(const std::string& spec);
// The canonical spec, which parse_augment reads back ("" for none).
std::string augment_spec(const AugmentOptions& options);

// One image's draw, as torchvision's get_params() makes it.
struct AugmentDraw {
  int crop_top = 0, crop_left = 0;  // RandomCrop's i, j in the padded image
  double angle = 0;                 // degrees
  int translate_x = 0, translate_y = 0;  // pixels
  double scale = 1, shear_x = 0;
  uint64_t elastic_stream = 0;  // seeds the displacement field's uniform noise
  bool flip = false;
  int erase_top = 0, erase_left = 0, erase_height = 0, erase_width = 0;  // height 0: nothing erased
};
AugmentDraw draw_augment(const AugmentOptions& options, int rows, int cols, Rng& rng);

// Each step alone, on a rows x cols image in [0, 1]; `scratch` holds an image.
void random_crop(const float* in, int rows, int cols, int padding, int top, int left, float* out);
void affine(const float* in, int rows, int cols, const AugmentDraw& draw, Interpolation interpolation, float* out);
// ElasticTransform's displacement (get_params) from its uniform noise in
// [-1, 1) (rows x cols each): each field blurred by a Gaussian of `sigma`
// (kernel int(8 sigma + 1) made odd, reflected borders), then scaled by
// alpha / rows (x) and alpha / cols (y), in grid_sample's [-1, 1] units.
// `tmp` holds rows x cols floats.
void elastic_displacement(const float* noise_x, const float* noise_y, int rows, int cols, double alpha, double sigma,
                          float* dx, float* dy, float* tmp);
// elastic_transform: out(y, x) = in sampled bilinearly at the identity grid
// plus the displacement, zero outside (with torchvision's mask blend).
void elastic(const float* in, int rows, int cols, const float* dx, const float* dy, float* out);
void horizontal_flip(float* image, int rows, int cols);
void erase(float* image, int cols, int top, int left, int height, int width);

// The whole pipeline: src bytes -> dst floats in [0, 1] (pixel / 255, as
// ToTensor). `scratch` holds augment_scratch_floats(rows, cols) floats.
void augment_image(const uint8_t* src, int rows, int cols, const AugmentOptions& options, const AugmentDraw& draw,
                   float* dst, float* scratch);
size_t augment_scratch_floats(int rows, int cols);

// The stream of the image at `position` in epoch `epoch` of a run seeded `seed`.
uint64_t augment_stream(uint64_t seed, int epoch, uint64_t position);

}  // namespace mnistlab
