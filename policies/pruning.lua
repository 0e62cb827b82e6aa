-- pruning.lua: which pods POST /pod/confirm deletes.
--
-- A pod in one of `states` is unsatisfactory. States listed in `grace_s`
-- are pruned only once the pod is older than that many seconds (a pod is
-- ContainerCreating for a while on every start).
local M = {}

M.states = {
  Pending = true,
  ContainerCreating = true,
  CrashLoopBackOff = true,
  ImagePullBackOff = true,
  ErrImagePull = true,
  Error = true,
  Terminating = true,
}

M.grace_s = {
  ContainerCreating = 30,
}

--- Should this pod go? Returns true and the reason, or false.
function M.unsatisfactory(pod)
  local status = pod.deleting and "Terminating" or pod.status
  if not M.states[status] then return false end
  local grace = M.grace_s[status]
  if grace and (pod.age_s or 0) < grace then return false end
  return true, status
end

return M
