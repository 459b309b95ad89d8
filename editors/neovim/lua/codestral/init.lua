--- codestral.nvim: Mistral's Codestral through the codestral-lsp language server.
local M = {}

local defaults = {
  cmd = { "codestral-lsp" }, -- how to start the server
  settings = {}, -- the server's settings (see the README's Configuration section)
  filetypes = nil, -- nil: every filetype
  root_markers = { ".git" },
  keymaps = false, -- true: <leader>ce explain, <leader>cr refactor, <leader>cf fix, <leader>cd document,
  --                  <leader>ct tests, <leader>ci edit (visual mode), <leader>cx cancel
  inline_completion = false, -- true: ghost text where vim.lsp.inline_completion exists (Neovim >= 0.12)
  progress = true, -- echo progress unless fidget.nvim is installed
}

M.config = vim.deepcopy(defaults)
local configured = false

local function client_for(bufnr)
  local clients = vim.lsp.get_clients({ bufnr = bufnr, name = "codestral" })
  return clients[1]
end

local function notify(message, level)
  vim.notify("Codestral: " .. message, level or vim.log.levels.INFO)
end

--- Show markdown in a floating window; `q` closes it.
function M.show_markdown(markdown)
  local lines = vim.split(markdown, "\n", { plain = true })
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].filetype = "markdown"
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = "wipe"
  local width = math.min(math.max(40, math.floor(vim.o.columns * 0.7)), vim.o.columns - 4)
  local height = math.min(#lines + 1, math.max(5, math.floor(vim.o.lines * 0.6)))
  local win = vim.api.nvim_open_win(buf, true, {
    relative = "editor",
    width = width,
    height = height,
    row = math.floor((vim.o.lines - height) / 2),
    col = math.floor((vim.o.columns - width) / 2),
    border = "rounded",
    title = " Codestral ",
    style = "minimal",
  })
  vim.wo[win].wrap = true
  vim.keymap.set("n", "q", function()
    vim.api.nvim_win_close(win, true)
  end, { buffer = buf, nowait = true, desc = "close" })
  return win, buf
end

local function on_result(action, bufnr)
  return function(err, result)
    local status = result and result.status or (err and "failed") or "unknown"
    if err then
      notify(err.message or tostring(err), vim.log.levels.ERROR)
    elseif result and result.markdown then
      M.show_markdown(result.markdown)
    elseif result and result.status == "applied" then
      notify(result.message)
    elseif result and (result.status == "kept" or result.status == "unchanged" or result.status == "cancelled"
      or result.status == "shown") then
      notify(result.message, result.status == "kept" and vim.log.levels.WARN or vim.log.levels.INFO)
    end
    vim.api.nvim_exec_autocmds("User", {
      pattern = "CodestralDone",
      data = { action = action, bufnr = bufnr, status = status, result = result, error = err },
    })
  end
end

--- Run an action on lines line1..line2 (1-based, inclusive) of the current buffer.
function M.run(action, opts)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    notify("the codestral-lsp server is not attached to this buffer (did you call require('codestral').setup()?)",
      vim.log.levels.ERROR)
    return
  end
  local line1 = opts.line1 or vim.fn.line(".")
  local line2 = opts.line2 or line1
  local instruction = opts.instruction
  if instruction == "" then
    instruction = nil
  end
  local function send(text)
    local argument = {
      uri = vim.uri_from_bufnr(bufnr),
      range = { start = { line = line1 - 1, character = 0 }, ["end"] = { line = line2, character = 0 } },
      instruction = text,
    }
    client:exec_cmd({ title = "Codestral " .. action, command = "codestral." .. action, arguments = { argument } },
      { bufnr = bufnr }, on_result(action, bufnr))
  end
  if action == "edit" and not instruction then
    vim.ui.input({ prompt = "Codestral edit: " }, function(text)
      if text and text ~= "" then
        send(text)
      end
    end)
  else
    send(instruction)
  end
end

--- Cancel the running actions.
function M.cancel()
  for _, client in ipairs(vim.lsp.get_clients({ name = "codestral" })) do
    client:exec_cmd({ title = "cancel", command = "codestral.cancel", arguments = { vim.empty_dict() } }, {},
      function(err, result)
        if err then
          notify(err.message, vim.log.levels.ERROR)
        else
          notify(("cancelled %d action(s)"):format(result and result.cancelled or 0))
        end
      end)
  end
end

--- Print this session's tokens and estimated cost.
function M.usage()
  local client = vim.lsp.get_clients({ name = "codestral" })[1]
  if not client then
    notify("the server is not running", vim.log.levels.WARN)
    return
  end
  client:exec_cmd({ title = "usage", command = "codestral.usage" }, {}, function(err, u)
    if err then
      notify(err.message, vim.log.levels.ERROR)
    else
      notify(("%d requests, %d tokens (%d in, %d out), about $%.4f"):format(
        u.requests, u.totalTokens, u.promptTokens, u.completionTokens, u.estimatedCostUsd))
    end
  end)
end

local function set_keymaps()
  local maps = {
    { "<leader>ce", "CodestralExplain" }, { "<leader>cr", "CodestralRefactor" }, { "<leader>cf", "CodestralFix" },
    { "<leader>cd", "CodestralDocument" }, { "<leader>ct", "CodestralTests" }, { "<leader>ci", "CodestralEdit" },
  }
  for _, map in ipairs(maps) do
    vim.keymap.set("x", map[1], ":" .. map[2] .. "<CR>", { desc = map[2], silent = true })
  end
  vim.keymap.set("n", "<leader>cx", "<cmd>CodestralCancel<CR>", { desc = "CodestralCancel" })
end

local function show_progress()
  vim.api.nvim_create_autocmd("LspProgress", {
    group = vim.api.nvim_create_augroup("codestral_progress", { clear = true }),
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if not client or client.name ~= "codestral" or package.loaded["fidget"] then
        return
      end
      local value = ev.data.params.value or {}
      local text = value.title or ""
      if value.message then
        text = text .. ": " .. value.message
      end
      vim.api.nvim_echo({ { text:sub(1, vim.o.columns - 12) } }, false, {})
    end,
  })
end

--- Configure and enable the language server.
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  local cfg = M.config
  vim.lsp.config("codestral", {
    cmd = cfg.cmd,
    filetypes = cfg.filetypes,
    root_markers = cfg.root_markers,
    init_options = cfg.settings,
    settings = { codestral = cfg.settings },
    capabilities = { experimental = { codestral = { promptForInstruction = true, showsExplanations = true } } },
    commands = {
      -- The "Edit with instruction…" code action: ask for the instruction here, then run it.
      ["codestral.edit"] = function(command, ctx)
        local argument = vim.deepcopy(command.arguments and command.arguments[1] or {})
        vim.ui.input({ prompt = "Codestral edit: " }, function(text)
          if not text or text == "" then
            return
          end
          argument.instruction = text
          local client = vim.lsp.get_client_by_id(ctx.client_id)
          if client then
            client:request("workspace/executeCommand", { command = "codestral.edit", arguments = { argument } },
              on_result("edit", ctx.bufnr), ctx.bufnr)
          end
        end)
      end,
    },
    on_attach = function(client, bufnr)
      if cfg.inline_completion and vim.lsp.inline_completion then
        vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
      end
    end,
  })
  vim.lsp.enable("codestral")
  require("codestral.commands").create()
  if cfg.keymaps then
    set_keymaps()
  end
  if cfg.progress then
    show_progress()
  end
  configured = true
end

function M.is_configured()
  return configured
end

return M
