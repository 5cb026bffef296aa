// The --augment spec: "crop=2,degrees=10,translate=0.1,scale=0.9:1.1,
// shear=5,bilinear,elastic=50:5,hflip,erase=0.5", also run.json's "augment".
#include <charconv>
#include <cmath>
#include <sstream>

#include "mnistlab/augment.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

const char* const kSpecHelp =
    "expected comma-separated items: crop=PADDING, degrees=D, translate=T, scale=LO:HI, shear=S, nearest or "
    "bilinear, elastic=ALPHA[:SIGMA], hflip, erase=P";

[[noreturn]] void bad(const std::string& spec, const std::string& item, const std::string& expected) {
  throw Error("'" + item + "' in '" + spec + "': " + expected);
}

double number(const std::string& spec, const std::string& item, const std::string& text, double lo, double hi) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value) || value < lo || value > hi) {
    std::ostringstream range;
    range << "expected a number from " << lo << " to " << hi;
    bad(spec, item, range.str());
  }
  return value;
}

std::string shortest(double value) {
  char text[32];
  const auto [ptr, ec] = std::to_chars(text, text + sizeof text, value);
  return std::string(text, ptr);
}

}  // namespace

AugmentOptions parse_augment(const std::string& spec) {
  AugmentOptions o;
  if (spec.empty() || spec == "none") return o;
  std::stringstream items(spec);
  for (std::string item; std::getline(items, item, ',');) {
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    const bool has_value = eq != std::string::npos;
    if (key == "crop" && has_value) {
      o.crop_padding = int(number(spec, item, value, 0, 64));
      if (o.crop_padding != number(spec, item, value, 0, 64)) bad(spec, item, "expected a whole number of pixels");
    } else if (key == "degrees" && has_value) {
      o.degrees = number(spec, item, value, 0, 180);
    } else if (key == "translate" && has_value) {
      o.translate = number(spec, item, value, 0, 1);
    } else if (key == "scale" && has_value) {
      const size_t colon = value.find(':');
      if (colon == std::string::npos) bad(spec, item, "expected scale=LO:HI, e.g. scale=0.9:1.1");
      o.scale_min = number(spec, item, value.substr(0, colon), 0.05, 10);
      o.scale_max = number(spec, item, value.substr(colon + 1), 0.05, 10);
      if (o.scale_min > o.scale_max) bad(spec, item, "expected LO <= HI");
    } else if (key == "shear" && has_value) {
      o.shear = number(spec, item, value, 0, 80);  // tan(90 degrees) is infinite
    } else if ((key == "nearest" || key == "bilinear") && !has_value) {
      o.interpolation = key == "bilinear" ? Interpolation::Bilinear : Interpolation::Nearest;
    } else if (key == "elastic" && has_value) {
      const size_t colon = value.find(':');
      o.elastic_alpha = number(spec, item, value.substr(0, colon), 0, 1000);
      if (colon != std::string::npos) o.elastic_sigma = number(spec, item, value.substr(colon + 1), 0, 64);
    } else if (key == "hflip" && !has_value) {
      o.hflip = true;
    } else if (key == "erase" && has_value) {
      o.erase = number(spec, item, value, 0, 1);
    } else {
      bad(spec, item, kSpecHelp);
    }
  }
  return o;
}

std::string augment_spec(const AugmentOptions& o) {
  std::string spec;
  const auto add = [&](const std::string& item) { spec += (spec.empty() ? "" : ",") + item; };
  if (o.crop_padding > 0) add("crop=" + std::to_string(o.crop_padding));
  if (o.degrees != 0) add("degrees=" + shortest(o.degrees));
  if (o.translate != 0) add("translate=" + shortest(o.translate));
  if (o.scale_min != 1 || o.scale_max != 1) add("scale=" + shortest(o.scale_min) + ":" + shortest(o.scale_max));
  if (o.shear != 0) add("shear=" + shortest(o.shear));
  if (o.affine() && o.interpolation == Interpolation::Bilinear) add("bilinear");
  if (o.elastic()) add("elastic=" + shortest(o.elastic_alpha) + ":" + shortest(o.elastic_sigma));
  if (o.hflip) add("hflip");
  if (o.erase > 0) add("erase=" + shortest(o.erase));
  return spec;
}

}  // namespace mnistlab
