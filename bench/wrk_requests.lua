-- Replays pre-signed WeChat requests from a file, in order, each once (bench/load.py writes it).
-- Line format: "<query string>\t<body>"; args: <file> <path>. With several threads, thread N reads
-- <file>.N, so that one user's messages stay in order on that thread's one connection.
local requests = {}
local next_index = 0
local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, path = args[1], args[2]
  if args[3] == "per-thread" then
    file = file .. "." .. thread_index
  end
  local headers = { ["Content-Type"] = "text/xml" }
  for line in io.lines(file) do
    local query, body = line:match("^([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", path .. "?" .. query, headers, body)
  end
  loaded = #requests
end

function request()
  next_index = next_index + 1
  if next_index > #requests then
    next_index = 1 -- wrapped: load.py sizes the files so that this does not happen
    wrapped = (wrapped or 0) + 1
  end
  return requests[next_index]
end

function done(summary, latency, requests)
  local wraps = 0
  for _, thread in ipairs(threads) do
    wraps = wraps + (thread:get("wrapped") or 0)
  end
  io.write(string.format(
    'WRK-JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"wraps":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, wraps))
end
