-- wrk script of make bench-api (bench/api.sh): POST /v1/messages, a text
-- message to a different number each time (so the messages spread over the
-- shards), with the bearer token from WA_BENCH_TOKEN (none for the anchor).
-- Counts the answers by HTTP status and prints, at the end, one line that
-- bench/api.sh reads:
--   WA_BENCH requests=N seconds=S rps=R p50_us=A p90_us=D p99_us=B max_us=C ok=N non2xx=N socket_errors=N statuses=201:N,...

local threads = {}

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

local counter = 0
local headers = {}
statuses = {}

function init(args)
    headers["Content-Type"] = "application/json"
    local token = os.getenv("WA_BENCH_TOKEN")
    if token and token ~= "" then
        headers["Authorization"] = "Bearer " .. token
    end
end

function request()
    counter = counter + 1
    -- 12 digits: 1555, the thread, a per-thread counter
    local to = string.format("1555%d%07d", id % 10, counter % 10000000)
    local body = '{"to":"' .. to .. '","type":"text","recipient_type":"individual","text":{"body":"bench"}}'
    return wrk.format("POST", "/v1/messages", headers, body)
end

function response(status, hdrs, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local total, ok = 0, 0
    local by = {}
    for _, thread in ipairs(threads) do
        local s = thread:get("statuses")
        for status, n in pairs(s) do
            by[status] = (by[status] or 0) + n
            total = total + n
            if status >= 200 and status < 300 then ok = ok + n end
        end
    end
    local parts = {}
    for status, n in pairs(by) do table.insert(parts, status .. ":" .. n) end
    table.sort(parts)
    local e = summary.errors
    local seconds = summary.duration / 1e6
    io.write(string.format(
        "WA_BENCH requests=%d seconds=%.2f rps=%.0f p50_us=%d p90_us=%d p99_us=%d max_us=%d ok=%d non2xx=%d socket_errors=%d statuses=%s\n",
        summary.requests, seconds, summary.requests / seconds, latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency.max, ok, total - ok, e.connect + e.read + e.write + e.timeout,
        #parts > 0 and table.concat(parts, ",") or "none"))
end
