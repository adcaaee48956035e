-- Argo CD health of a Baton Deployment (baton.dev/v1alpha1): is its schedule in force?
--   Progressing  the operator has not observed this generation of the spec yet
--   Degraded     Ready=False: the spec or a schedule is invalid (reason and message)
--   Suspended    spec.paused: no runs are scheduled
--   Healthy      Ready=True: runs are created on schedule
-- A failed run does not make its Deployment Degraded: the FlowRun shows that itself.
-- Argo CD's Lua has no string library: only `..` and tostring() build messages.
local hs = {}

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Baton operator to observe the Deployment"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Baton operator to observe generation " .. tostring(generation)
    .. " (observed " .. tostring(status.observedGeneration) .. ")"
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = tostring(ready.reason or "NotReady") .. ": " .. tostring(ready.message or "")
  return hs
end

local last = ""
if status.lastRun ~= nil and status.lastRun.name ~= nil then
  last = "; last run " .. status.lastRun.name .. " " .. tostring(status.lastRun.state or "")
end

if obj.spec ~= nil and obj.spec.paused == true then
  hs.status = "Suspended"
  hs.message = "Paused: no runs are scheduled" .. last
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = tostring(ready.message or "Ready")
  if status.nextRunTime ~= nil then
    hs.message = hs.message .. "; next run " .. status.nextRunTime
  end
  hs.message = hs.message .. last
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
