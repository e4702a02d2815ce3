-- Like wrk_requests.lua, but stops each thread once every request of its file was answered
-- (priming: make the bench's users known before measuring). Run from bench/.
dofile("wrk_requests.lua")

local answered = 0

function response(status, headers, body)
  answered = answered + 1
  if answered >= loaded then
    wrk.thread:stop()
  end
end
