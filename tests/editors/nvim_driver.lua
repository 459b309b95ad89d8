-- Drives Neovim headless through one scenario; writes what a user would see as JSON.
-- Environment: PLUGIN_DIR, PYTHON, FILE, SCENARIO, RESULT_FILE.
local env = vim.env
vim.opt.rtp:append(env.PLUGIN_DIR)
vim.o.swapfile = false
local result = {}
local done = nil
local progress = {}

local function finish()
  local file = io.open(env.RESULT_FILE, "w")
  file:write(vim.json.encode(result))
  file:close()
  for _, client in ipairs(vim.lsp.get_clients()) do
    client:stop()
  end
  vim.wait(3000, function() return #vim.lsp.get_clients() == 0 end, 20)
  vim.cmd("qall!")
end

local function fail(message)
  result.error = message
  finish()
end

vim.api.nvim_create_autocmd("User", {
  pattern = "CodestralDone",
  callback = function(ev)
    done = ev.data
  end,
})
vim.api.nvim_create_autocmd("LspProgress", {
  callback = function(ev)
    local value = ev.data.params.value or {}
    table.insert(progress, { kind = value.kind, title = value.title, message = value.message })
  end,
})

require("codestral").setup({
  cmd = { env.PYTHON, "-m", "codestral_lsp" },
  settings = { predictedOutputs = true },
  inline_completion = true, -- switched on where this Neovim has vim.lsp.inline_completion
})
vim.cmd("edit " .. vim.fn.fnameescape(env.FILE))
vim.bo.filetype = "python"

local attached = vim.wait(20000, function()
  local client = vim.lsp.get_clients({ bufnr = 0, name = "codestral" })[1]
  return client ~= nil and client.initialized
end, 20)
if not attached then
  return fail("the server did not attach")
end

local function wait_done()
  if not vim.wait(20000, function() return done ~= nil end, 10) then
    fail("no CodestralDone")
    return false
  end
  return true
end

local scenario = env.SCENARIO
if scenario == "health" then
  vim.cmd("checkhealth codestral")
  result.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  return finish()
elseif scenario == "inline" then
  -- The cursor on the blank line 9 as on entering insert mode there: Neovim asks for a
  -- completion on InsertEnter; the ghost text appears; accept it as a <Tab> mapping would.
  vim.api.nvim_win_set_cursor(0, { 9, 0 })
  vim.api.nvim_exec_autocmds("InsertEnter", { buffer = 0 })
  local accepted = vim.wait(20000, function() return vim.lsp.inline_completion.get() end, 20)
  if not accepted then return fail("no inline completion was shown") end
  vim.wait(5000, function() return vim.bo.modified end, 10)
  vim.cmd("write")
elseif scenario == "refactor" then
  vim.cmd("5,8CodestralRefactor")
  if not wait_done() then return end
  vim.cmd("write")
  result.status = done.status
elseif scenario == "explain" then
  vim.cmd("4,8CodestralExplain")
  if not wait_done() then return end
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= "" then
      local buf = vim.api.nvim_win_get_buf(win)
      result.float_lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
      result.float_filetype = vim.bo[buf].filetype
      vim.api.nvim_feedkeys("q", "x", false)
      result.float_closed_by_q = not vim.api.nvim_win_is_valid(win)
    end
  end
  result.status = done.status
  result.done = { status = done.status, result = done.result, error = done.error }
  result.wins = #vim.api.nvim_list_wins()
elseif scenario == "cancel" then
  vim.cmd("5,8CodestralRefactor")
  local reported = vim.wait(20000, function()
    for _, p in ipairs(progress) do
      if p.kind == "report" then return true end
    end
    return false
  end, 10)
  if not reported then return fail("no progress report") end
  vim.cmd("CodestralCancel")
  if not wait_done() then return end
  result.status = done.status
elseif scenario == "review" then
  vim.cmd("5,8CodestralReview")
  if not wait_done() then return end
  result.status = done.status
  local function ours()
    return vim.diagnostic.get(0, { severity = nil })
  end
  if not vim.wait(20000, function() return #ours() > 0 end, 10) then return fail("no diagnostics") end
  result.diagnostics = {}
  for _, d in ipairs(ours()) do
    table.insert(result.diagnostics, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      message = d.message, source = d.source, severity = d.severity,
    })
  end
  local d = ours()[1]
  local params = vim.lsp.util.make_range_params(0, "utf-16")
  params.range = { start = { line = d.lnum, character = d.col }, ["end"] = { line = d.end_lnum, character = d.end_col } }
  params.context = { diagnostics = { d.user_data.lsp } }
  local answers = vim.lsp.buf_request_sync(0, "textDocument/codeAction", params, 10000) or {}
  result.actions = {}
  for _, answer in pairs(answers) do
    for _, action in ipairs(answer.result or {}) do table.insert(result.actions, action.title) end
  end
  vim.cmd("CodestralClearReview")
  result.cleared = vim.wait(20000, function() return #ours() == 0 end, 10)
elseif scenario == "code_action" then
  -- The range a linewise visual selection (V) of lines 5-8 gives.
  local last = vim.api.nvim_buf_get_lines(0, 7, 8, true)[1]
  vim.lsp.buf.code_action({
    range = { start = { 5, 0 }, ["end"] = { 8, #last - 1 } },
    filter = function(action) return action.title == "Codestral: Refactor" end,
    apply = true,
  })
  local changed = vim.wait(20000, function() return vim.bo.modified end, 10)
  if not changed then return fail("the code action changed nothing") end
  vim.cmd("write")
end
result.buffer = vim.api.nvim_buf_get_lines(0, 0, -1, false)
result.progress = progress
finish()
