-- gen.lua LINES SEED: deterministic pseudo-random text on stdout, lines of
-- a 6-digit number, 4 to 13 words of a 1000-word vocabulary (small indexes
-- more often, so it compresses like text) and a number.
local nlines = tonumber(arg[1]) or 40000
local x = tonumber(arg[2]) or 1
local function rnd()
  x = x * 6364136223846793005 + 1442695040888963407
  return x >> 33
end
local syl = {"ka", "lo", "mi", "ne", "ru", "ta", "si", "po",
             "de", "ba", "go", "hu", "zi", "fe", "ve", "xo"}
local words = {}
for i = 1, 1000 do
  local w = {}
  for j = 1, 1 + rnd() % 4 do w[j] = syl[1 + rnd() % #syl] end
  words[i] = table.concat(w)
end
local out = {}
for _ = 1, nlines do
  local l = {string.format("%06d", rnd() % 1000000)}
  for _ = 1, 4 + rnd() % 10 do
    local r = rnd() % 1000
    l[#l + 1] = words[1 + (r * r) // 1000]
  end
  l[#l + 1] = tostring(rnd() % 100000)
  out[#out + 1] = table.concat(l, " ")
  if #out == 1000 then
    io.write(table.concat(out, "\n"), "\n")
    out = {}
  end
end
if #out > 0 then io.write(table.concat(out, "\n"), "\n") end
