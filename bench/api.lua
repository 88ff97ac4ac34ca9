-- wrk script for scripts/bench: replays one signed management API request.
--
--   wrk ... -s bench/api.lua URL -- SPEC_FILE
--
-- SPEC_FILE (bench/gen.mjs sign): the method, the path, "Name: value"
-- header lines, a blank line, then the body.  done() prints
--   BENCH requests=N duration_us=N rps=N p50_us=N p99_us=N non2xx=N
--         errors=N statuses=201:N,...

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

local req
codes = {}

function init(args)
    local f = assert(io.open(assert(args[1], "api.lua: pass the spec file"), "rb"))
    local spec = f:read("*a")
    f:close()

    local head, body = spec:match("^(.-)\n\n(.*)$")
    local method, path, rest = head:match("^(%S+)\n(%S+)\n(.*)$")
    local headers = {}

    for name, value in rest:gmatch("([^:\n]+): ([^\n]*)") do
        headers[name] = value
    end

    if body == "" then body = nil end
    req = wrk.format(method, path, headers, body)
end

function request()
    return req
end

function response(status, headers, body)
    codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
    local all, bad = {}, 0

    for _, t in ipairs(threads) do
        for code, c in pairs(t:get("codes") or {}) do
            all[code] = (all[code] or 0) + c
            if code < 200 or code > 299 then bad = bad + c end
        end
    end

    local list = {}
    for code, c in pairs(all) do list[#list + 1] = code .. ":" .. c end
    table.sort(list)

    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d "
        .. "non2xx=%d errors=%d statuses=%s\n",
        summary.requests, summary.duration,
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(99), bad,
        e.connect + e.read + e.write + e.timeout,
        table.concat(list, ",")))
end
