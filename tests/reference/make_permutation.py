#!/usr/bin/python3
"""The shuffled orders mnistlab's batch loader must produce, computed from
the published definitions alone: the reference for BatchLoader.OrderIsPinned
and SeededShuffle.* (tests/test_data.cpp).

Run by ctest as the fixture test ``make_permutation``; by hand:

    /usr/bin/python3 tests/reference/make_permutation.py --out build/reference

writes ``<out>/permutations.json``.

Nothing here is taken from mnistlab's output. The generator is MT19937-64
written from Matsumoto and Nishimura's mt19937-64.c (2004/9/29 version):
init_genrand64 (the seeding std::mt19937_64(seed) is defined by, C++
[rand.eng.mers]), init_by_array64 and genrand64_int64. Before writing
anything the script checks it against two published outputs:

- mt19937-64.out.txt, the authors' output of genrand64_int64() after
  init_by_array64({0x12345, 0x23456, 0x34567, 0x45678}): its first ten
  values (exercises the recurrence and the tempering);
- the C++ standard's check for std::mt19937_64 ([rand.predef]): the
  10000th output of a default-constructed engine (seed 5489) is
  9981545732273789042 (exercises init_genrand64, the seeding mnistlab uses).

The shuffle is the one src/data/permutation.cpp documents: Fisher-Yates
(Knuth, TAOCP vol. 2, Algorithm P) from the back, i = n..2 swapping
element i-1 with element j, j uniform in [0, i) drawn by rejecting the
lowest 2^64 mod i engine outputs and taking the remainder. The loader
(src/data/batch_loader.cpp) shuffles 0..n-1 anew each epoch with the engine
seeded by seed * 1000003 + epoch (mod 2^64).
"""

import argparse
import json
import os

MASK64 = (1 << 64) - 1


class MT19937_64:
    """mt19937-64.c, transcribed."""

    NN = 312
    MM = 156
    MATRIX_A = 0xB5026F5AA96619E9
    UM = 0xFFFFFFFF80000000  # most significant 33 bits
    LM = 0x7FFFFFFF  # least significant 31 bits

    def __init__(self, seed=None, key=None):
        self.mt = [0] * self.NN
        self.mti = self.NN + 1
        if key is not None:
            self.init_by_array64(key)
        else:
            self.init_genrand64(5489 if seed is None else seed)

    def init_genrand64(self, seed):
        mt = self.mt
        mt[0] = seed & MASK64
        for i in range(1, self.NN):
            mt[i] = (6364136223846793005 * (mt[i - 1] ^ (mt[i - 1] >> 62)) + i) & MASK64
        self.mti = self.NN

    def init_by_array64(self, key):
        NN = self.NN
        self.init_genrand64(19650218)
        mt = self.mt
        i, j = 1, 0
        for _ in range(max(NN, len(key))):
            mt[i] = ((mt[i] ^ (((mt[i - 1] ^ (mt[i - 1] >> 62)) * 3935559000370003845) & MASK64))
                     + key[j] + j) & MASK64
            i += 1
            j += 1
            if i >= NN:
                mt[0] = mt[NN - 1]
                i = 1
            if j >= len(key):
                j = 0
        for _ in range(NN - 1):
            mt[i] = ((mt[i] ^ (((mt[i - 1] ^ (mt[i - 1] >> 62)) * 2862933555777941757) & MASK64)) - i) & MASK64
            i += 1
            if i >= NN:
                mt[0] = mt[NN - 1]
                i = 1
        mt[0] = 1 << 63  # MSB is 1, assuring a non-zero initial array

    def _twist(self):
        NN, MM, UM, LM, A = self.NN, self.MM, self.UM, self.LM, self.MATRIX_A
        mt = self.mt
        for i in range(NN - MM):
            x = (mt[i] & UM) | (mt[i + 1] & LM)
            mt[i] = mt[i + MM] ^ (x >> 1) ^ (A if x & 1 else 0)
        for i in range(NN - MM, NN - 1):
            x = (mt[i] & UM) | (mt[i + 1] & LM)
            mt[i] = mt[i + (MM - NN)] ^ (x >> 1) ^ (A if x & 1 else 0)
        x = (mt[NN - 1] & UM) | (mt[0] & LM)
        mt[NN - 1] = mt[MM - 1] ^ (x >> 1) ^ (A if x & 1 else 0)
        self.mti = 0

    def next(self):
        if self.mti >= self.NN:
            self._twist()
        x = self.mt[self.mti]
        self.mti += 1
        x ^= (x >> 29) & 0x5555555555555555
        x ^= (x << 17) & 0x71D67FFFEDA60000
        x ^= (x << 37) & 0xFFF7EEE000000000
        x ^= x >> 43
        return x & MASK64


def check_generator():
    """Refuses to write a reference from a generator that misses the published outputs."""
    published = [7266447313870364031, 4946485549665804864, 16945909448695747420, 16394063075524226720,
                 4873882236456199058, 14877448043947020171, 6740343660852211943, 13857871200353263164,
                 5249110015610582907, 10205081126064480383]
    mt = MT19937_64(key=[0x12345, 0x23456, 0x34567, 0x45678])
    got = [mt.next() for _ in published]
    if got != published:
        raise SystemExit(f"MT19937-64 does not reproduce mt19937-64.out.txt: {got} != {published}")
    mt = MT19937_64()
    for _ in range(9999):
        mt.next()
    tenthousandth = mt.next()
    if tenthousandth != 9981545732273789042:
        raise SystemExit(f"MT19937-64's 10000th output for seed 5489 is {tenthousandth}, "
                         "the C++ standard says 9981545732273789042")


def uniform_below(mt, n):
    threshold = ((1 << 64) - n) % n  # 2^64 mod n
    while True:
        r = mt.next()
        if r >= threshold:
            return r % n


def seeded_shuffle(values, seed):
    mt = MT19937_64(seed=seed)
    values = list(values)
    for i in range(len(values), 1, -1):
        j = uniform_below(mt, i)
        values[i - 1], values[j] = values[j], values[i - 1]
    return values


def loader_order(n, seed, epoch):
    return seeded_shuffle(range(n), (seed * 1000003 + epoch) & MASK64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    check_generator()
    os.makedirs(args.out, exist_ok=True)

    # The loader's order of samples 0..n-1 for (seed, epoch): small and
    # MNIST-sized sets, epochs past the first, a seed whose product wraps
    # around 2^64 (seed * 1000003 overflows) and the largest seed.
    loader = []
    for n, seed, epoch in [(10, 42, 0), (10, 42, 1), (1, 7, 0), (2, 7, 0), (2, 7, 1), (103, 0, 0), (103, 0, 5),
                           (1000, 123, 2), (1000, 0xDEADBEEFCAFEF00D, 3), (1000, MASK64, 0),
                           (60000, 1, 0)]:
        loader.append({"n": n, "seed": seed, "epoch": epoch, "order": loader_order(n, seed, epoch)})

    # seeded_shuffle itself on values that are not 0..n-1, so a shuffle of
    # positions instead of values would fail.
    shuffles = []
    for n, seed in [(5, 0), (50, 5489), (257, 1 << 63)]:
        values = [1000 + 3 * i for i in range(n)]
        shuffles.append({"values": values, "seed": seed, "shuffled": seeded_shuffle(values, seed)})

    out = {"loader": loader, "shuffle": shuffles}
    path = os.path.join(args.out, "permutations.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f)
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
