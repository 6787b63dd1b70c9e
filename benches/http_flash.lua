-- wrk script for benches/http_flash.sh: a flash sale over HTTP.
--
-- Arguments (after `--`): BUYERS THREADS. The buyers b0 … b<BUYERS-1>
-- are registered customers. Every request either pays an order this wrk
-- thread placed and has not paid yet (`POST /orders/{id}/pay` with the
-- payable the place answered), or places a one-unit order `o<k>` for the
-- next buyer `b<k>` (`POST /orders`; thread t takes k = t, t + THREADS,
-- …): each buyer tries once, for one unit. Once every buyer has tried,
-- the thread only reads the stock (`GET /stock/phone`). Every POST carries
-- the shop token (MERCATO_SHOP_TOKEN) and its own Idempotency-Key. After
-- the stock is gone places answer 409 insufficient_stock, and the queued
-- orders are still paid. done() prints `@@` lines the shell script reads.

local threads = {}
local next_tid = 0

-- Main state: number the threads, keep them for done().
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

-- Thread state (globals, so done() can read them with thread:get).
placed, paid, rejected, errors, reads = 0, 0, 0, 0, 0
local queue = {}
local auth, buyers, step, k

function init(args)
  auth = "Bearer " .. (os.getenv("MERCATO_SHOP_TOKEN") or "")
  buyers = tonumber(args[1])
  step = tonumber(args[2])
  k = tid
end

function request()
  local o = table.remove(queue)
  if o then
    return wrk.format("POST", "/orders/" .. o.id .. "/pay", {
      ["Authorization"] = auth,
      ["Idempotency-Key"] = "pay-" .. o.id,
      ["Content-Type"] = "application/json",
    }, '{"amount":"' .. o.amount .. '"}')
  end
  if k >= buyers then
    return wrk.format("GET", "/stock/phone", { ["Authorization"] = auth })
  end
  local id = "o" .. k
  local buyer = "b" .. k
  k = k + step
  return wrk.format("POST", "/orders", {
    ["Authorization"] = auth,
    ["Idempotency-Key"] = "place-" .. id,
    ["Content-Type"] = "application/json",
  }, '{"id":"' .. id .. '","customer":"' .. buyer ..
     '","lines":[{"sku":"phone","qty":1}],"channel":"flash"}')
end

function response(status, headers, body)
  if status == 200 then
    -- serde_json writes keys in order: hold_reasons, order, quote, …, status.
    if body:find('"status":"pending_payment"', 1, true) then
      local id = body:match('"order":"([^"]+)"')
      local amount = body:match('"payable":"([^"]+)"')
      if id and amount then
        placed = placed + 1
        table.insert(queue, { id = id, amount = amount })
      else
        errors = errors + 1
      end
    elseif body:find('"status":"paid"', 1, true) then
      paid = paid + 1
    elseif body:find('"available":', 1, true) then
      reads = reads + 1
    else
      errors = errors + 1
    end
  elseif status == 409 and body:find('"code":"insufficient_stock"', 1, true) then
    rejected = rejected + 1
  else
    errors = errors + 1
    if errors <= 3 then
      io.stderr:write("unexpected answer " .. status .. ": " .. body .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local p, q, r, e, g = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    p = p + t:get("placed")
    q = q + t:get("paid")
    r = r + t:get("rejected")
    e = e + t:get("errors")
    g = g + t:get("reads")
  end
  io.write(string.format("@@ placed %d paid %d rejected %d errors %d reads %d\n", p, q, r, e, g))
  io.write(string.format("@@ latency_us p50 %d p90 %d p99 %d max %d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  io.write(string.format("@@ requests %d duration_us %d\n", summary.requests, summary.duration))
end
