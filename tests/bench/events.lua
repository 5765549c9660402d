-- events.lua -- wrk script for bench_events (and bench_meetings): POST one pre-signed event (or one authorised request), over and over.
--
-- The body and its signature come from the environment (bench_events
-- sets them): BENCH_BODY, BENCH_SIGNATURE. Every thread counts the
-- status of every response; done() prints, one a line,
--   jp-status CODE COUNT     for each status seen
--   jp-summary REQUESTS DURATION_US CONNECT READ WRITE STATUS TIMEOUT
--              LATENCY_MEAN_US P50_US P99_US
-- so that only 2xx answers are counted as acknowledged events.

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or ""
wrk.headers["Content-Type"] = "application/json"
if os.getenv("BENCH_SIGNATURE") then
  wrk.headers["X-Jitsi-Signature"] = os.getenv("BENCH_SIGNATURE")
end
-- bench_meetings: the API's bearer token instead
if os.getenv("BENCH_AUTH") then
  wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

statuses = {}

function response(status, headers, body)
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for k, v in pairs(s) do
        total[k] = (total[k] or 0) + v
      end
    end
  end
  for k, v in pairs(total) do
    io.write(string.format("jp-status %s %d\n", k, v))
  end
  local e = summary.errors
  io.write(string.format("jp-summary %d %d %d %d %d %d %d %.1f %d %d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency.mean, latency:percentile(50),
    latency:percentile(99)))
end
