-- init.lua for Neovim under test (tests/editors/tmux_nvim.py): a user's config plus a recorder.
-- Environment: PLUGIN_DIR, PYTHON (runs the server), CODESTRAL_SETUP (JSON: setup() options,
-- "cmd" defaults to PYTHON -m codestral_lsp), RUFF (optional: a second server, `ruff server`).
local env = vim.env
vim.opt.rtp:append(env.PLUGIN_DIR)
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. "I"

-- What the test reads back: the plugin's CodestralDone events and every vim.notify message.
_G.codestral_test = { done = {}, messages = {} }
local notify = vim.notify
vim.notify = function(message, level, opts)
  table.insert(_G.codestral_test.messages, { message = message, level = level })
  return notify(message, level, opts)
end
vim.api.nvim_create_autocmd("User", {
  pattern = "CodestralDone",
  callback = function(ev)
    local data = ev.data or {}
    table.insert(_G.codestral_test.done, { action = data.action, status = data.status, result = data.result })
  end,
})

if env.RUFF and env.RUFF ~= "" then
  vim.lsp.config("ruff", { cmd = { env.RUFF, "server" }, filetypes = { "python" }, root_markers = { ".git" } })
  vim.lsp.enable("ruff")
end

if env.CODESTRAL_SETUP and env.CODESTRAL_SETUP ~= "" then
  local opts = vim.json.decode(env.CODESTRAL_SETUP, { luanil = { object = true, array = true } })
  if opts.cmd == nil then
    opts.cmd = { env.PYTHON, "-m", "codestral_lsp" }
  end
  require("codestral").setup(opts)
end
