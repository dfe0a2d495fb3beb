-- wrk script for bench/api.py: round-robin over a list of paths, an optional JSON body,
-- optionally recording the message id of every 2xx answer, and a JSON summary at the end.
--
--   wrk ... -s bench/wrk/roundrobin.lua URL -- PATHS [METHOD] [BODY_FILE] [IDS_PREFIX]
--
-- PATHS      file with one request path a line; each thread starts at its own offset
-- METHOD     GET (default) or POST
-- BODY_FILE  file whose bytes are the POST body (sent with Content-Type: application/json)
-- IDS_PREFIX when given, each thread appends the "message" id of every 2xx answer to
--            IDS_PREFIX<thread>.txt (bench/api.py checks afterwards that each one exists)

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
  table.insert(threads, thread)
end

local function read_file(name)
  local f = assert(io.open(name, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    if #line > 0 then
      table.insert(paths, line)
    end
  end
  method = args[2] or "GET"
  -- wrk.format() uses the headers it is given instead of wrk.headers (the -H ones).
  headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  body = nil
  if args[3] and #args[3] > 0 then
    body = read_file(args[3])
    headers["Content-Type"] = "application/json"
  end
  ids = nil
  if args[4] and #args[4] > 0 then
    ids = assert(io.open(args[4] .. thread_number .. ".txt", "a"))
    ids:setvbuf("full")
    -- wrk reads bodies only when a response() callback exists after init().
    response = recording
  end
  -- Spread the threads over the list so they don't all start on the same path.
  index = (thread_number - 1) * math.floor(#paths / 8 + 1)
end

function request()
  index = index + 1
  return wrk.format(method, paths[(index % #paths) + 1], headers, body)
end

function recording(status, _, response_body)
  if status >= 200 and status < 300 then
    local id = string.match(response_body, '"message":%s*{%s*"id":%s*"([^"]+)"')
    if id then
      ids:write(id, "\n")
    end
  end
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
