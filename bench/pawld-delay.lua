-- wrk script for bench/pawld-bench.sh: each connection waits 1 ms after
-- every answer, so that the offered rate is connections / (1 ms + latency)
-- instead of as fast as possible (wrk cannot hold a fixed rate).
function delay()
    return 1
end
