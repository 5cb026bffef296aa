#pragma once
// Image quality of a denoised image against its clean original, both in
// [0, 1] (data range 1): PSNR and SSIM (Wang, Bovik, Sheikh, Simoncelli,
// 2004) with an 11x11 Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03,
// averaged over the window positions that fit inside the image ("valid").
namespace mnistlab {

// 10 log10(1 / MSE); +infinity for identical images.
double psnr(const float* image, const float* reference, int height, int width);
double ssim(const float* image, const float* reference, int height, int width);

}  // namespace mnistlab
