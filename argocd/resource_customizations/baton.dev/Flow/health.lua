-- Argo CD health of a Baton Flow (baton.dev/v1alpha1), from its Ready condition:
--   Progressing  the operator reported on an older generation, or Ready is Unknown
--   Degraded     Ready=False (reason and message)
--   Healthy      Ready=True, or no Ready condition at all: a Flow is configuration
--                (image + entrypoint) that the CRD's schema already validated, and an
--                operator that reports nothing on Flows must not leave every Argo CD
--                application Progressing forever.
-- Argo CD's Lua has no string library: only `..` and tostring() build messages.
local hs = {}

local status = obj.status or {}
local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil
    and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Baton operator to observe generation " .. tostring(generation)
    .. " (observed " .. tostring(status.observedGeneration) .. ")"
  return hs
end

if status.conditions ~= nil then
  for _, c in ipairs(status.conditions) do
    if c.type == "Ready" then
      if c.status == "False" then
        hs.status = "Degraded"
        hs.message = tostring(c.reason or "NotReady") .. ": " .. tostring(c.message or "")
      elseif c.status == "True" then
        hs.status = "Healthy"
        hs.message = tostring(c.message or "Ready")
      else
        hs.status = "Progressing"
        hs.message = tostring(c.message or "Waiting for the Ready condition")
      end
      return hs
    end
  end
end

local spec = obj.spec or {}
hs.status = "Healthy"
hs.message = "image " .. tostring(spec.image) .. ", entrypoint " .. tostring(spec.entrypoint)
return hs
