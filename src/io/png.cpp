// libpng's simplified API (png_image, libpng >= 1.6) reads and writes whole
// images without setjmp/longjmp in our code.
//
// It offers no way to cap what libpng allocates for a chunk
// (png_set_chunk_malloc_max needs the low-level API), and Debian's libpng has
// no cap built in: a 57-byte file whose iTXt chunk declares 1.7 GB, or a
// zTXt chunk that inflates without end, would be allocated in full (found by
// fuzz/png.cpp). So the file is read into memory, its chunks are walked and
// checked against the bytes that are really there, and only the chunks that
// define the pixels reach libpng; text, ICC profiles and private chunks are
// left out. The pixels themselves inflate into a buffer of the header's size.
//
// The samples are taken as stored, as PIL, OpenCV and torchvision take them:
// the colour-space chunks (gAMA, sRGB, cHRM, iCCP) and sBIT are left out too,
// since libpng's simplified API converts by them (a 16-bit file with the
// usual gAMA of 1/2.2 read through it gave 14263 for a stored 32767). Without
// them libpng takes an 8-bit file as sRGB and a 16-bit one as linear, so
// reading 8-bit files as PNG_FORMAT_GRAY and 16-bit ones as
// PNG_FORMAT_LINEAR_Y converts nothing.
#include "mnistlab/png.h"

#include <png.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "io/input_file.h"
#include "io/temporary_file.h"
#include "mnistlab/error.h"
#include "mnistlab/limits.h"

namespace mnistlab {

namespace {

// Chunks that hold the stored samples of a gray image (PNG spec 11.2): the
// header, palette, transparency (which makes an image one with alpha, which
// is refused) and IDAT data. All are of fixed size or bounded by the image,
// except IDAT, whose inflation libpng stops at the image's size.
bool defines_pixels(const char* type) {
  static const char* const kKept[] = {"IHDR", "PLTE", "IDAT", "IEND", "tRNS"};
  for (const char* kept : kKept)
    if (std::memcmp(type, kept, 4) == 0) return true;
  return false;
}

uint32_t big_endian(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

std::string chunk_name(const uint8_t* type) {
  std::string out;
  for (int i = 0; i < 4; ++i) out += (type[i] >= 0x20 && type[i] < 0x7f) ? char(type[i]) : '?';
  return out;
}

// The file with only the chunks defines_pixels keeps, each checked to lie
// inside the file.
std::vector<uint8_t> pixel_chunks(const std::filesystem::path& path, uint64_t size) {
  const std::string name = path.string();
  std::vector<uint8_t> file(size);
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(file.data()), std::streamsize(size)))
    throw Error(name + ": cannot read the file");
  static const std::array<uint8_t, 8> kSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < kSignature.size() || std::memcmp(file.data(), kSignature.data(), kSignature.size()) != 0)
    throw Error(name + ": not a readable PNG file (no PNG signature)");
  std::vector<uint8_t> kept(file.begin(), file.begin() + kSignature.size());
  uint64_t at = kSignature.size();
  while (at < size) {
    if (size - at < 12)
      throw Error(name + ": truncated PNG: " + std::to_string(size - at) + " bytes at byte " + std::to_string(at) +
                  " where a chunk of at least 12 was expected");
    const uint64_t length = big_endian(&file[at]);
    const uint8_t* type = &file[at + 4];
    if (length > size - at - 12)
      throw Error(name + ": PNG chunk " + chunk_name(type) + " at byte " + std::to_string(at) + " declares " +
                  std::to_string(length) + " bytes but the file has " + std::to_string(size - at - 12) +
                  " after it (truncated or corrupt)");
    if (defines_pixels(reinterpret_cast<const char*>(type)))
      kept.insert(kept.end(), file.begin() + long(at), file.begin() + long(at + 12 + length));
    at += 12 + length;
    if (std::memcmp(type, "IEND", 4) == 0) break;
  }
  return kept;
}

// The libpng description of an 8-bit gray image, after checking that its
// pixels match its size; `name` says whose image it is in the error.
png_image gray_png_image(const std::string& name, const GrayImage& img) {
  if (img.width < 1 || img.height < 1 || img.pixels.size() != size_t(img.width) * img.height)
    throw Error(name + ": image of " + std::to_string(img.width) + "x" + std::to_string(img.height) + " with " +
                std::to_string(img.pixels.size()) + " pixels");
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = png_uint_32(img.width);
  image.height = png_uint_32(img.height);
  image.format = PNG_FORMAT_GRAY;
  return image;
}

// The PNG file of `pixels` as `image` describes them. The first pass only
// sizes the buffer, the second fills it (libpng's idiom).
std::string encode_png(png_image& image, const uint8_t* pixels) {
  png_alloc_size_t size = 0;
  std::string bytes;
  for (int pass = 0; pass < 2; ++pass) {
    if (!png_image_write_to_memory(&image, pass ? bytes.data() : nullptr, &size, 0, pixels, 0, nullptr))
      throw Error("cannot encode a PNG of " + std::to_string(image.width) + "x" + std::to_string(image.height) + " (" +
                  image.message + ")");
    bytes.resize(size);
  }
  return bytes;
}

// The samples of a gray image as stored: 8 bits (files of 1, 2 and 4 bits
// expanded by libpng to 0..255, palette entries that are grey) or 16.
struct Samples {
  int width = 0, height = 0;
  bool sixteen = false;
  std::vector<uint16_t> values;  // row-major, height * width
};

Samples gray_from_palette(png_image& image, const std::string& name) {
  image.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> rgb(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, rgb.data(), 0, nullptr))
    throw Error(name + ": cannot decode the PNG (" + image.message + ")");
  Samples out;
  out.width = int(image.width);
  out.height = int(image.height);
  out.values.resize(rgb.size() / 3);
  for (size_t i = 0; i < out.values.size(); ++i) {
    const uint8_t r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    if (r != g || g != b)
      throw Error(name + ": is a color palette PNG (pixel " + std::to_string(i) + " is rgb(" + std::to_string(r) +
                  "," + std::to_string(g) + "," + std::to_string(b) +
                  ")); expected a grayscale PNG (convert it, e.g. with ImageMagick: convert IN -colorspace Gray OUT.png)");
    out.values[i] = r;
  }
  return out;
}

Samples read_samples(const std::filesystem::path& path, int width, int height) {
  const std::string name = path.string();
  const uint64_t size = check_input_file(path, "a PNG image", limits::kPngFileBytes);
  const std::vector<uint8_t> chunks = pixel_chunks(path, size);
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, chunks.data(), chunks.size()))
    throw Error(name + ": not a readable PNG file (" + image.message + ")");
  // The file's own format, before any conversion we ask for.
  const bool color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  const bool alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  const bool sixteen = (image.format & PNG_FORMAT_FLAG_LINEAR) != 0;
  // A palette image reports colour whatever its entries are: it is decoded
  // as RGB below and taken when every pixel is grey.
  const bool palette = (image.format & PNG_FORMAT_FLAG_COLORMAP) != 0;
  if ((color && !palette) || alpha) {
    png_image_free(&image);
    throw Error(name + ": is a " + std::string(color ? "color" : "gray+alpha") +
                " PNG; expected a grayscale PNG without alpha (convert it, e.g. with ImageMagick: "
                "convert IN -colorspace Gray -alpha off OUT.png)");
  }
  const int64_t w = image.width, h = image.height;
  if (w > limits::kImageSide || h > limits::kImageSide || (width > 0 && (w != width || h != height))) {
    png_image_free(&image);
    throw Error(name + ": is " + std::to_string(w) + "x" + std::to_string(h) + "; expected " +
                (width > 0 ? std::to_string(width) + "x" + std::to_string(height) +
                                 " (mnistlab does not resize: scale it first)"
                           : "at most " + std::to_string(limits::kImageSide) + " pixels a side"));
  }
  if (palette) return gray_from_palette(image, name);
  Samples out;
  out.width = int(image.width);
  out.height = int(image.height);
  out.sixteen = sixteen;
  // A 16-bit file without gAMA or sRGB is linear to libpng, as is
  // PNG_FORMAT_LINEAR_Y; an 8-bit one is sRGB, as is PNG_FORMAT_GRAY: no
  // conversion either way (the samples as stored).
  image.format = sixteen ? PNG_FORMAT_LINEAR_Y : PNG_FORMAT_GRAY;
  if (sixteen) {
    out.values.resize(size_t(w) * size_t(h));
    if (!png_image_finish_read(&image, nullptr, out.values.data(), 0, nullptr))
      throw Error(name + ": cannot decode the PNG (" + image.message + ")");
    return out;
  }
  std::vector<uint8_t> bytes(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, bytes.data(), 0, nullptr))
    throw Error(name + ": cannot decode the PNG (" + image.message + ")");
  out.values.assign(bytes.begin(), bytes.end());
  return out;
}

}  // namespace

GrayImage read_png_gray(const std::filesystem::path& path, int width, int height) {
  const Samples samples = read_samples(path, width, height);
  GrayImage out{samples.width, samples.height, std::vector<uint8_t>(samples.values.size())};
  for (size_t i = 0; i < out.pixels.size(); ++i) {
    const uint32_t v = samples.values[i];
    // v * 255 / 65535 = v / 257, rounded (257 is odd: never a tie).
    out.pixels[i] = uint8_t(samples.sixteen ? (v + 128) / 257 : v);
  }
  return out;
}

GrayValues read_png_gray_values(const std::filesystem::path& path, int width, int height) {
  const Samples samples = read_samples(path, width, height);
  GrayValues out{samples.width, samples.height, samples.sixteen ? 16 : 8, std::vector<float>(samples.values.size())};
  const float top = samples.sixteen ? 65535.0f : 255.0f;
  for (size_t i = 0; i < out.values.size(); ++i) out.values[i] = float(samples.values[i]) / top;
  return out;
}

void write_png_gray(const std::filesystem::path& path, const GrayImage& img) {
  TemporaryFile tmp(path);  // refuses a link, a device or a FIFO before the encoding's work
  tmp.write(encode_png_gray(img));
  tmp.commit();
}

std::string encode_png_gray(const GrayImage& img) {
  png_image image = gray_png_image("PNG in memory", img);
  return encode_png(image, img.pixels.data());
}

std::string encode_png_rgb(const GrayImage& img) {
  png_image image = gray_png_image("PNG in memory", img);
  image.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> rgb(img.pixels.size() * 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = img.pixels[i];
  return encode_png(image, rgb.data());
}

}  // namespace mnistlab
