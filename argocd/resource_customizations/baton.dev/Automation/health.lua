-- Argo CD health of a Baton Automation (baton.dev/v1alpha1): can it deliver?
--   Progressing  the automations component has not observed this generation yet
--   Degraded     Ready=False (invalid spec, template error) or DeliveryFailing=True
--   Suspended    spec.enabled is false: nothing fires
--   Healthy      Ready=True and no delivery failing
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
  hs.message = "Waiting for the automations component to observe the Automation"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the automations component to observe generation "
    .. tostring(generation) .. " (observed " .. tostring(status.observedGeneration) .. ")"
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = tostring(ready.reason or "NotReady") .. ": " .. tostring(ready.message or "")
  return hs
end

local failing = condition(status, "DeliveryFailing")
if failing ~= nil and failing.status == "True" then
  hs.status = "Degraded"
  hs.message = tostring(failing.reason or "DeliveryFailing") .. ": "
    .. tostring(failing.message or "")
  return hs
end

if obj.spec ~= nil and obj.spec.enabled == false then
  hs.status = "Suspended"
  hs.message = "Disabled: nothing fires"
  return hs
end

hs.status = "Healthy"
hs.message = "delivered " .. tostring(status.deliveredCount or 0) .. ", failed "
  .. tostring(status.failedCount or 0)
return hs
