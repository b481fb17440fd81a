# prog.py [N]: primes below N (sieve), sums by residue, string work;
# prints a deterministic summary line (python3-minimal: builtins only)
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
sieve = bytearray([1]) * (n + 1)
sieve[0] = sieve[1] = 0
for i in range(2, int(n ** 0.5) + 1):
    if sieve[i]:
        sieve[i * i::i] = bytes(len(range(i * i, n + 1, i)))
primes = [i for i, v in enumerate(sieve) if v]
d = {}
for p in primes:
    d[p % 97] = d.get(p % 97, 0) + p
h = 0
for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0])):
    h = (h * 1000003 + k * 7 + v) % (1 << 61)
text = ' '.join(str(p) for p in primes[:5000])
ones = sum(w.count('1') for w in text.split())
print('primes=%d last=%d h=%x len=%d ones=%d'
      % (len(primes), primes[-1], h, len(text), ones))
