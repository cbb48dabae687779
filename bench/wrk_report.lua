-- wrk script of bench/bench_api.py: token auth, optional JSON POST bodies with unique names,
-- and a machine-readable summary line ("WRKJSON {...}") at the end.
--
-- Environment: BENCH_TOKEN (required), BENCH_BODY=ci for POSTs of one new CI,
-- BENCH_PREFIX (unique per run, makes names and serial numbers unique).

local token = os.getenv("BENCH_TOKEN")
local body_kind = os.getenv("BENCH_BODY")
local prefix = os.getenv("BENCH_PREFIX") or "bench-new"
local ci_type = os.getenv("BENCH_CI_TYPE") or "bench-created"

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

function init(args)
  wrk.headers["Authorization"] = "Token " .. token
  wrk.headers["Accept"] = "application/json"
  if body_kind == "ci" then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  end
end

local counter = 0

if os.getenv("BENCH_BODY") == "ci" then
  request = function()
    counter = counter + 1
    local name = string.format("%s-%d-%d", prefix, tid, counter)
    local body = string.format(
      '{"name": "%s", "ci_type": "%s", "status": "production", "hostname": "%s.example.net", '
        .. '"serial_number": "SN-%s", "attributes": {"os": "Debian GNU/Linux", '
        .. '"environment": "production", "cpu_cores": 8, "memory_mb": 16384}}',
      name, ci_type, name, name)
    return wrk.format(nil, nil, nil, body)
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, '
      .. '"errors_read": %d, "errors_write": %d, "errors_status": %d, "errors_timeout": %d, '
      .. '"p50_us": %.1f, "p95_us": %.1f, "p99_us": %.1f, "mean_us": %.1f, "max_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean,
    latency.max))
end
