-- bench.lua [N [M]]: recursive fib(N), sort of M pseudo-random integers,
-- string building and matching; prints a deterministic summary line.
-- (Integers are 64-bit and wrap around in Lua 5.4: the LCG is exact.)
local n = tonumber(arg[1]) or 25
local m = tonumber(arg[2]) or 100000
local function fib(k)
  if k < 2 then return k end
  return fib(k - 1) + fib(k - 2)
end
local f = fib(n)
local x = 12345
local t = {}
for i = 1, m do
  x = x * 6364136223846793005 + 1442695040888963407
  t[i] = x >> 33
end
table.sort(t)
local h = 0
for i = 1, m do h = (h * 31 + t[i]) & 0xffffffffffff end
local parts = {}
for i = 1, 2000 do parts[#parts + 1] = string.format("%d:%x", i, t[i]) end
local s = table.concat(parts, ",")
local _, a = s:gsub("a", "A")
local words = 0
for _ in s:gmatch("%d+:") do words = words + 1 end
print(string.format("fib=%d n=%d min=%d max=%d hash=%x str=%d/%d/%d",
                    f, m, t[1], t[m], h, #s, a, words))
