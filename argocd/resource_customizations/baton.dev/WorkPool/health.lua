-- Argo CD health of a Baton WorkPool (baton.dev/v1alpha1):
--   Progressing  the operator has not observed this generation of the spec yet
--   Degraded     a Ready condition is False (the operator reports a problem)
--   Suspended    spec.paused: no new run starts from this pool
--   Healthy      otherwise; the message counts running and queued runs
-- Argo CD's Lua has no string library: only `..` and tostring() build messages.
local hs = {}

local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Baton operator to observe the WorkPool"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Baton operator to observe generation " .. tostring(generation)
    .. " (observed " .. tostring(status.observedGeneration) .. ")"
  return hs
end

if status.conditions ~= nil then
  for _, c in ipairs(status.conditions) do
    if c.type == "Ready" and c.status == "False" then
      hs.status = "Degraded"
      hs.message = tostring(c.reason or "NotReady") .. ": " .. tostring(c.message or "")
      return hs
    end
  end
end

local counts = tostring(status.running or 0) .. " running, " .. tostring(status.queued or 0)
  .. " queued"
if status.workers ~= nil and #status.workers > 0 then
  counts = counts .. ", " .. tostring(#status.workers) .. " worker(s)"
end

if obj.spec ~= nil and obj.spec.paused == true then
  hs.status = "Suspended"
  hs.message = "Paused: no new runs start (" .. counts .. ")"
  return hs
end

hs.status = "Healthy"
hs.message = counts
return hs
