--- :checkhealth codestral
local M = {}

function M.check()
  local health = vim.health
  health.start("codestral")
  local codestral = require("codestral")
  if not codestral.is_configured() then
    health.warn("require('codestral').setup() has not been called")
  end
  local cmd = codestral.config.cmd
  if vim.fn.executable(cmd[1]) == 1 then
    health.ok("server command found: " .. table.concat(cmd, " "))
  else
    health.error("server command not found: " .. cmd[1], { "Install it: python3 -m pip install codestral-lsp (or from a checkout: pip install .), "
      .. "or give its full path as `cmd` in setup()" })
    return
  end
  local settings = codestral.config.settings or {}
  local key_vars = settings.apiKeyEnv and { settings.apiKeyEnv } or { "CODESTRAL_API_KEY", "MISTRAL_API_KEY" }
  local found = false
  for _, name in ipairs(key_vars) do
    if vim.env[name] and vim.env[name] ~= "" then
      health.ok(name .. " is set")
      found = true
    end
  end
  if not found then
    health.warn("no key variable set (" .. table.concat(key_vars, ", ") .. "); fine only for a local server")
  end
  local encoded = next(settings) == nil and "{}" or vim.json.encode(settings) -- {} would encode as []
  local args = vim.list_extend(vim.deepcopy(cmd), { "check", "--settings", encoded })
  local done = vim.system(args, { text = true }):wait(30000)
  local output = vim.split(vim.trim((done.stdout or "") .. (done.stderr or "")), "\n")
  if done.code == 0 then
    health.ok("codestral-lsp check: endpoint reachable, key and model accepted")
    for _, line in ipairs(output) do
      health.info(line)
    end
  else
    health.error("codestral-lsp check found problems", output)
  end
end

return M
