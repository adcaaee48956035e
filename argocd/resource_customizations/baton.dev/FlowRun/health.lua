-- Argo CD health of a Baton FlowRun (baton.dev/v1alpha1), from status.state:
--   Healthy      Completed, and Cancelled (someone asked for it: by `baton cancel`,
--                or a Deployment's CancelNew/CancelOld concurrency strategy)
--   Degraded     Failed, TimedOut, Crashed
--   Suspended    Paused
--   Progressing  no state yet, Scheduled, Late, AwaitingRetry, Pending, Running,
--                Retrying, Cancelling; and a run that has not reached a final state
--                while the operator has not observed its latest spec (a cancel request)
--   Unknown      a state this check does not know (a newer Baton)
-- Final states are final: a later spec change (cancelRequested on a finished run) is
-- not "observed" by the operator and must not make a finished run Progressing again.
-- Argo CD's Lua has no string library: only `..` and tostring() build messages.
local hs = {}

local healthy = { Completed = true, Cancelled = true }
local degraded = { Failed = true, TimedOut = true, Crashed = true }
local progressing = {
  Scheduled = true, Late = true, AwaitingRetry = true, Pending = true,
  Running = true, Retrying = true, Cancelling = true,
}

local status = obj.status or {}
local state = status.state

local function describe()
  if status.message ~= nil and status.message ~= "" then
    return state .. ": " .. status.message
  end
  return state
end

if state == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Baton operator to admit the run"
  return hs
end

if healthy[state] then
  hs.status = "Healthy"
  hs.message = describe()
  return hs
end
if degraded[state] then
  hs.status = "Degraded"
  hs.message = describe()
  if status.error ~= nil and status.error.type ~= nil and status.error.type ~= "" then
    hs.message = hs.message .. " (" .. status.error.type .. ")"
  end
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil
    and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Baton operator to observe generation " .. tostring(generation)
    .. " (observed " .. tostring(status.observedGeneration) .. "); " .. describe()
  return hs
end

if state == "Paused" then
  hs.status = "Suspended"
  hs.message = describe()
  return hs
end
if progressing[state] then
  hs.status = "Progressing"
  hs.message = describe()
  return hs
end

hs.status = "Unknown"
hs.message = "Unknown state " .. tostring(state)
return hs
