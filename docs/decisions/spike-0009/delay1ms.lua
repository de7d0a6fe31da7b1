-- Spike 0009: wrk cannot hold a fixed rate (wrk2 is not in Debian); each connection
-- waits 1 ms before its next request, so 16 connections offer a steady, unsaturated load.
function delay()
    return 1
end
