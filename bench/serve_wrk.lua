-- wrk script for `hoptrace serve`: GET /v1/addresses/{address} for addresses
-- drawn at random from the file named by ADDRESSES (one per line), with the
-- bearer token of TOKEN when set. Used by bench/serve_check.sh.
local paths = {}

function init(args)
  local file = os.getenv("ADDRESSES")
  for line in io.lines(file) do
    if #line > 0 then
      paths[#paths + 1] = "/v1/addresses/" .. line
    end
  end
  if #paths == 0 then
    error("no addresses in " .. file)
  end
  local token = os.getenv("TOKEN")
  if token and #token > 0 then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  math.randomseed(os.time() + #paths)
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
