-- wrk script for the benchmark harness.
--   wrk ... -s bench/wrk/bench.lua URL -- [PIPELINE_DEPTH [PATH...]]
-- With a depth > 1 every write carries that many requests (HTTP/1.1 pipelining), as in
-- TechEmpower's plaintext test. With paths, each connection requests them in turn (a page load mix). At the end it prints one machine-readable line:
--   BENCHJSON {"requests":...,"duration_us":...,"bytes":...,"errors":{...},"latency_us":{...}}

-- wrk decides whether a script is "dynamic" (calls request() for every write) after running
-- thread 0's init(), so request() is defined only when pipelining: plain runs keep wrk's static,
-- precomputed request and cost the load generator no Lua call per request.
function init(args)
  local depth = tonumber(args[1] or "1") or 1
  if #args > 1 then
    local requests = {}
    for i = 2, #args do
      requests[#requests + 1] = wrk.format(nil, args[i])
    end
    local next = 0
    request = function()
      next = next % #requests + 1
      return requests[next]
    end
  elseif depth > 1 then
    local r = {}
    for i = 1, depth do
      r[i] = wrk.format()
    end
    local pipelined = table.concat(r)
    request = function()
      return pipelined
    end
  end
end

-- Percentiles. wrk 4.1 (Debian's) corrects for coordinated omission by adding samples at
-- latency - k * interval; those that land below the smallest measured latency are counted in the
-- total but lie outside the [min, max] range that latency:percentile() scans, so every percentile is
-- shifted up and the high ones come back as 0 (typical with pipelining, where the minimum is large).
-- The Lua API exposes no histogram, so the share of samples inside [min, max] (the largest p that
-- percentile() can answer, found by bisection) is used to rescale: percentile(p * share). When no
-- sample is lost, share is 1 and the values are exactly wrk's own.
local function in_range_share(latency)
  if latency:percentile(99.9999) ~= 0 then
    return 1.0
  end
  local lo, hi = 0.0, 99.9999
  for _ = 1, 40 do
    local mid = (lo + hi) / 2
    if latency:percentile(mid) ~= 0 then lo = mid else hi = mid end
  end
  return lo / 100
end

function done(summary, latency, requests)
  local e = summary.errors
  local share = in_range_share(latency)
  local p = {}
  for _, q in ipairs({50, 75, 90, 99, 99.9}) do
    p[#p + 1] = string.format('"p%s":%d,"wrk_p%s":%d', (tostring(q):gsub("%.", "_")),
      latency:percentile(q * share), (tostring(q):gsub("%.", "_")), latency:percentile(q))
  end
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"in_range_share":%.6f,"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    share, latency.min, latency.mean, latency.stdev, latency.max, table.concat(p, ",")))
end
