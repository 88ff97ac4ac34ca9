-- wrk script for scripts/bench: admission requests rotating through many
-- (room, user, token) pairs.
--
--   wrk ... -s bench/admit.lua URL -- PAIRS_FILE [LIMIT [PAUSE_MS]]
--
-- PAIRS_FILE has "roomId token" lines (bench/gen.mjs data); LIMIT uses only
-- the first LIMIT of them (0: all).  PAUSE_MS makes each connection wait that
-- long after an answer before its next request, so that the load is fixed
-- and below saturation (wrk times a request from its write, not the pause).  Each request is GET /media/{roomId}/x with
-- "Authorization: Bearer {token}", pre-formatted in init() so that the
-- client stays cheap.  Every status is counted: done() prints one line
--   BENCH requests=N duration_us=N rps=N p50_us=N p99_us=N non200=N
--         errors=N statuses=200:N,401:N,...
-- which scripts/bench parses (and fails on any non-200).

local threads = {}
local nthreads = 0

function setup(thread)
    nthreads = nthreads + 1
    thread:set("tid", nthreads)
    table.insert(threads, thread)
end

local reqs, n, i, pause = {}, 0, 0, 0
codes = {}

function init(args)
    local file, limit = args[1], tonumber(args[2] or "0")
    pause = tonumber(args[3] or "0")

    -- wrk looks for delay() after init(): without a pause there is none,
    -- so that saturated runs do not go through wrk's timers
    if pause <= 0 then
        delay = nil
    end
    assert(file, "admit.lua: pass the pairs file after --")

    for line in io.lines(file) do
        local room, token = line:match("^(%d+) (%S+)$")
        if room then
            n = n + 1
            reqs[n] = wrk.format("GET", "/media/" .. room .. "/x",
                                 { ["Authorization"] = "Bearer " .. token })
            if limit > 0 and n >= limit then break end
        end
    end

    assert(n > 0, "admit.lua: no pairs in " .. file)

    -- each run (and thread) starts at a random place of the rotation, so
    -- that short runs do not all go over the same first pairs
    math.randomseed(os.time() * 1000 + (tid or 1))
    i = math.random(n) - 1
end

function request()
    i = i + 1
    if i > n then i = 1 end
    return reqs[i]
end

function delay()
    return pause
end

function response(status, headers, body)
    codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
    local all, non200 = {}, 0

    for _, t in ipairs(threads) do
        for code, c in pairs(t:get("codes") or {}) do
            all[code] = (all[code] or 0) + c
            if code ~= 200 then non200 = non200 + c end
        end
    end

    local list = {}
    for code, c in pairs(all) do list[#list + 1] = code .. ":" .. c end
    table.sort(list)

    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d "
        .. "non200=%d errors=%d statuses=%s\n",
        summary.requests, summary.duration,
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(99), non200,
        e.connect + e.read + e.write + e.timeout,
        table.concat(list, ",")))
end
