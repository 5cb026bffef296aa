#include "kernels/cpu/cpu_info.h"

#include <cpuid.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace mnistlab::cpu {
namespace {

struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned subleaf = 0) {
  Regs r;
  if (leaf > unsigned(__get_cpuid_max(leaf & 0x80000000u, nullptr))) return r;
  __cpuid_count(leaf, subleaf, r.a, r.b, r.c, r.d);
  return r;
}

bool bit(unsigned reg, int n) { return (reg >> n) & 1u; }

// The register state the OS saves on a context switch (XCR0): without it an
// instruction set the CPU has would fault.
unsigned long long xcr0() {
  if (!bit(cpuid(1).c, 27)) return 0;  // OSXSAVE
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

std::string trimmed(std::string s) {
  s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
  const auto first = s.find_first_not_of(' ');
  const auto last = s.find_last_not_of(' ');
  return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
}

CpuInfo detect() {
  CpuInfo info;
  const Regs v = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor, &v.b, 4);
  std::memcpy(vendor + 4, &v.d, 4);
  std::memcpy(vendor + 8, &v.c, 4);
  info.vendor = vendor;

  if (cpuid(0x80000000u).a >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002u + i);
      std::memcpy(brand + 16 * i, &r, 16);
    }
    info.model = trimmed(brand);
  }

  const Regs l1 = cpuid(1);
  const int base_family = (l1.a >> 8) & 0xf, ext_family = (l1.a >> 20) & 0xff;
  const int base_model = (l1.a >> 4) & 0xf, ext_model = (l1.a >> 16) & 0xf;
  info.family = base_family == 0xf ? base_family + ext_family : base_family;
  info.model_number = base_family == 0x6 || base_family == 0xf ? (ext_model << 4) + base_model : base_model;
  info.stepping = l1.a & 0xf;
  info.logical_cpus = int(sysconf(_SC_NPROCESSORS_ONLN));

  const unsigned long long xcr = xcr0();
  const bool os_avx = (xcr & 0x6) == 0x6;              // XMM and YMM state
  const bool os_avx512 = os_avx && (xcr & 0xe0) == 0xe0;  // opmask, ZMM0-15 upper halves, ZMM16-31
  const Regs l7 = cpuid(7), l7s1 = cpuid(7, 1);
  const bool avx2 = os_avx && bit(l1.c, 28) && bit(l1.c, 12) && bit(l7.b, 5);  // AVX, FMA, AVX2
  const bool avx512 = os_avx512 && bit(l7.b, 16) && bit(l7.b, 28) && bit(l7.b, 30) && bit(l7.b, 17) &&
                      bit(l7.b, 31);  // F, CD, BW, DQ, VL
  info.widest = avx512 && avx2 ? Isa::Avx512 : avx2 ? Isa::Avx2 : Isa::Scalar;
  info.avx512_vnni = avx512 && bit(l7.c, 11);
  info.avx512_bf16 = avx512 && bit(l7s1.a, 5);
  info.amx_tile = bit(l7.d, 24) && ((xcr >> 17) & 0x3) == 0x3;  // TILECFG and TILEDATA state
  info.amx_bf16 = info.amx_tile && bit(l7.d, 22);
  return info;
}

}  // namespace

const CpuInfo& cpu_info() {
  static const CpuInfo info = detect();
  return info;
}

Isa widest_isa() { return cpu_info().widest; }

}  // namespace mnistlab::cpu

namespace mnistlab {

const char* isa_name(Isa isa) { return name_of(kIsaNames, isa); }

std::optional<Isa> parse_isa(const std::string& name) { return find_named(kIsaNames, name); }

const char* precision_name(Precision precision) { return name_of(kPrecisionNames, precision); }

std::optional<Precision> parse_precision(const std::string& name) { return find_named(kPrecisionNames, name); }

}  // namespace mnistlab
