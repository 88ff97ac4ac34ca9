-- wrk script for the fault runs: every request takes the next line of a
-- token file, so that load spreads over many (room, user, token) triples.
--
--   wrk ... -s rotate.lua URL -- FILE PREFIX [close] [LABEL]
--
-- FILE has "SUFFIX TOKEN" lines (faults.pl setup): the request is
-- GET PREFIX..SUFFIX with "Authorization: Bearer TOKEN" ("-": no token).
-- "close" adds "Connection: close", so that every request has its own
-- connection.  Every status is counted; done() prints one line
--   WRK label=L requests=N 2xx=N 401=N 403=N 503=N 5xx_other=N other=N
--       connect=N read=N write=N timeout=N statuses=200:N,...
-- that run.sh parses.

local threads = {}
local nthreads = 0

function setup(thread)
    nthreads = nthreads + 1
    thread:set("tid", nthreads)
    table.insert(threads, thread)
end

local reqs, n, i = {}, 0, 0
codes = {}
label = "wrk"

function init(args)
    local file, prefix, close = args[1], args[2], args[3]
    assert(file and prefix, "rotate.lua: pass FILE PREFIX after --")
    label = args[4] or file

    for line in io.lines(file) do
        local suffix, token = line:match("^(%S+) (%S+)$")
        if suffix then
            local h = {}
            if token ~= "-" then
                h["Authorization"] = "Bearer " .. token
            end
            if close == "close" then
                h["Connection"] = "close"
            end
            n = n + 1
            reqs[n] = wrk.format("GET", prefix .. suffix, h)
        end
    end

    assert(n > 0, "rotate.lua: no lines in " .. file)
    i = ((tid or 1) - 1) * 7919 % n
end

function request()
    i = i + 1
    if i > n then i = 1 end
    return reqs[i]
end

function response(status, headers, body)
    codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
    local all, keys = {}, {}
    local c2xx, c401, c403, c503, c5xx, other = 0, 0, 0, 0, 0, 0
    local lbl

    for _, t in ipairs(threads) do
        lbl = lbl or t:get("label")
        for code, c in pairs(t:get("codes") or {}) do
            all[code] = (all[code] or 0) + c
        end
    end

    for code, c in pairs(all) do
        table.insert(keys, code)
        if code >= 200 and code < 300 then c2xx = c2xx + c
        elseif code == 401 then c401 = c401 + c
        elseif code == 403 then c403 = c403 + c
        elseif code == 503 then c503 = c503 + c
        elseif code >= 500 then c5xx = c5xx + c
        else other = other + c end
    end
    table.sort(keys)

    local st = {}
    for _, code in ipairs(keys) do
        table.insert(st, code .. ":" .. all[code])
    end

    local e = summary.errors
    io.write(string.format(
        "WRK label=%s requests=%d 2xx=%d 401=%d 403=%d 503=%d 5xx_other=%d "
        .. "other=%d connect=%d read=%d write=%d timeout=%d p99_ms=%.1f "
        .. "statuses=%s\n",
        lbl or "wrk", summary.requests, c2xx, c401, c403, c503, c5xx, other,
        e.connect, e.read, e.write, e.timeout,
        latency:percentile(99) / 1000, table.concat(st, ",")))
end
