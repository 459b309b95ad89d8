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
  accept_key = "<Tab>", -- insert mode: accepts the ghost text (else the key does what it did); false: none
  explanation = "right", -- where explanations open: "right" (beside the code), "below" (a split), "float"
  progress = true, -- echo progress unless fidget.nvim is installed
  -- Buffer-local keys while a proposal is shown (normal mode); false: none (use the commands).
  review_keys = { accept = "<leader>cy", reject = "<leader>cn", retry = "<leader>cr" },
  highlight_changes = 1500, -- ms the lines an edit changed stay highlighted; 0: not at all
}

M.config = vim.deepcopy(defaults)
local configured = false
local missing_command = nil -- the server command, when it is not executable

local ACTIONS = { "explain", "refactor", "fix", "document", "tests", "edit" }

local function client_for(bufnr)
  return vim.lsp.get_clients({ bufnr = bufnr, name = "codestral" })[1]
end

-- Messages: one line each, said once. The server's window/showMessage and a command's result
-- often carry the same sentence; within one action, whichever comes second is not repeated.
local recent = {}

local function bare(message)
  local text = vim.trim(tostring(message or ""):gsub("%s*\n%s*", " "))
  while text:sub(1, 11) == "Codestral: " do
    text = text:sub(12)
  end
  return text
end
M.bare = bare

local function notify(message, level)
  local text = bare(message)
  if text == "" then
    return
  end
  for _, seen in ipairs(recent) do
    if seen:find(text, 1, true) or text:find(seen, 1, true) then
      return
    end
  end
  table.insert(recent, text)
  vim.notify("Codestral: " .. text, level or vim.log.levels.INFO)
end
M.notify = notify

local explanation_win = nil

local function explanation_window(height_hint)
  local layout = M.config.explanation
  if explanation_win and vim.api.nvim_win_is_valid(explanation_win) then
    return explanation_win
  end
  if layout == "float" then
    local width = math.max(30, math.floor(vim.o.columns * 0.42))
    local height = math.min(math.max(5, height_hint + 1), vim.o.lines - 4)
    return vim.api.nvim_open_win(0, true, {
      relative = "editor",
      anchor = "NE",
      row = 0,
      col = vim.o.columns,
      width = width,
      height = height,
      border = "rounded",
      title = " Codestral ",
      style = "minimal",
    })
  elseif layout == "below" then
    vim.cmd("belowright split")
    vim.api.nvim_win_set_height(0, math.max(6, math.floor(vim.o.lines * 0.35)))
  else
    vim.cmd("rightbelow vsplit")
    vim.api.nvim_win_set_width(0, math.max(40, math.floor(vim.o.columns * 0.45)))
  end
  return vim.api.nvim_get_current_win()
end

--- Show an explanation: rendered Markdown beside the code (see `explanation`); `q` closes it.
function M.show_markdown(markdown)
  local lines = vim.split(markdown, "\n", { plain = true })
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].filetype = "markdown"
  pcall(vim.api.nvim_buf_set_name, buf, "codestral://explanation/" .. buf)
  local win = explanation_window(#lines)
  vim.api.nvim_win_set_buf(win, buf)
  vim.api.nvim_set_current_win(win)
  pcall(vim.treesitter.start, buf, "markdown")
  local wo = vim.wo[win][0]
  wo.wrap, wo.linebreak, wo.breakindent = true, true, true
  wo.conceallevel, wo.concealcursor = 2, "nc"
  wo.number, wo.relativenumber, wo.signcolumn, wo.spell, wo.list = false, false, "no", false, false
  explanation_win = win
  vim.keymap.set("n", "q", function()
    if not (vim.api.nvim_win_is_valid(win) and pcall(vim.api.nvim_win_close, win, true)) then
      vim.cmd("bwipeout") -- the last window: drop the explanation instead
    end
  end, { buffer = buf, nowait = true, desc = "Codestral: close" })
  return win, buf
end

local function on_result(action, bufnr, command, client_id)
  return function(err, result)
    local status = result and result.status or (err and "failed") or "unknown"
    local answering = command == "codestral.accept" or command == "codestral.reject"
    if err and answering and err.code == vim.lsp.protocol.ErrorCodes.InvalidParams then
      status = "expired" -- the proposal is no longer open: the server's sentence says so
      notify(err.message or "that proposal is no longer open; run the action again", vim.log.levels.WARN)
    elseif err then
      notify(err.message or tostring(err), vim.log.levels.ERROR)
    elseif result and result.status == "proposed" and result.jobId then
      local hint = require("codestral.review").show(client_id, bufnr, action, result)
      -- the keys too, when the line fits the message area (a longer one would need a hit-enter)
      notify(hint and vim.fn.strdisplaywidth(hint) < vim.o.columns - 12 and hint or result.message)
    elseif result and result.markdown then
      M.show_markdown(result.markdown)
      notify(result.message)
    elseif result and result.message then
      local warn = result.status == "kept" or result.status == "failed"
      notify(result.message, warn and vim.log.levels.WARN or vim.log.levels.INFO)
    end
    vim.api.nvim_exec_autocmds("User", {
      pattern = "CodestralDone",
      data = { action = action, bufnr = bufnr, status = status, result = result, error = err },
    })
  end
end

--- Send a command to the server for `action` on `bufnr`; while it runs, `range` (LSP, whole
--- lines) is marked with the job's progress. The result is said once and fires CodestralDone.
function M.request(client, command, argument, bufnr, action, range)
  local review = require("codestral.review")
  recent = {} -- a new action: its outcome is news even if the last one said the same
  local mark = review.start(client.id, bufnr, range, action)
  local done = on_result(action, bufnr, command, client.id)
  local ok = client:request("workspace/executeCommand", { command = command, arguments = { argument } },
    function(err, result)
      review.finish(mark)
      done(err, result)
    end, bufnr)
  if not ok then
    review.finish(mark)
  end
end

local REWRITES = { refactor = true, fix = true, document = true, edit = true }

-- Send an action command to the server, asking for the instruction first when an edit has none.
-- Every action goes through here, from the :Codestral* commands and from the code-action menu.
local function send(client, command, argument, bufnr)
  local action = command:match("^codestral%.(.*)$") or command
  argument = vim.deepcopy(argument or {})
  local function go()
    local range = argument.range
    if REWRITES[action] and range and range.start and bufnr and vim.api.nvim_buf_is_valid(bufnr) then
      -- a new rewrite of these lines expires the server's open proposals there
      local last = range["end"].line
      if last > range.start.line and range["end"].character == 0 then
        last = last - 1 -- the end of the last line
      end
      require("codestral.review").drop(bufnr, range.start.line, last)
    end
    M.request(client, command, argument, bufnr, argument.action or action, range)
  end
  if action == "edit" and (argument.instruction == nil or argument.instruction == "") then
    vim.ui.input({ prompt = "Codestral edit: " }, function(text)
      if text and vim.trim(text) ~= "" then
        argument.instruction = text
        go()
      end
    end)
  else
    go()
  end
end

-- The LSP range (client encoding) of byte columns in a buffer line.
local function character(bufnr, row, col, encoding)
  local ok, value = pcall(vim.lsp.util.character_offset, bufnr, row, col, encoding)
  return ok and value or col
end

--- Every diagnostic on lines first..last (0-based) of a buffer, whatever its source, as LSP
--- diagnostics in `encoding`.
function M.diagnostics(bufnr, first, last, encoding)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local end_lnum = d.end_lnum or d.lnum
    if d.lnum <= last and end_lnum >= first then
      local lsp = d.user_data and d.user_data.lsp or {}
      table.insert(out, {
        range = {
          start = { line = d.lnum, character = character(bufnr, d.lnum, d.col or 0, encoding) },
          ["end"] = { line = end_lnum, character = character(bufnr, end_lnum, d.end_col or d.col or 0, encoding) },
        },
        message = d.message,
        severity = d.severity,
        code = d.code or lsp.code,
        source = d.source or lsp.source,
      })
    end
  end
  return out
end

local function no_client_message(bufnr)
  if not configured then
    return "call require('codestral').setup() first (see :help codestral)"
  elseif missing_command then
    return ("server command `%s` not found: install codestral-lsp or set `cmd` (:checkhealth codestral)")
      :format(missing_command)
  end
  local filetypes = M.config.filetypes
  if filetypes and not vim.list_contains(filetypes, vim.bo[bufnr].filetype) then
    return ("the server is not enabled for filetype %q (setup's `filetypes`)"):format(vim.bo[bufnr].filetype)
  end
  return "the server is not running for this buffer (it may still be starting, or it exited: see :LspLog)"
end

--- Run an action on lines line1..line2 (1-based, inclusive) of the current buffer.
function M.run(action, opts)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    notify(no_client_message(bufnr), vim.log.levels.ERROR)
    return
  end
  local line1 = opts.line1 or vim.fn.line(".")
  local line2 = opts.line2 or line1
  local argument = {
    uri = vim.uri_from_bufnr(bufnr),
    range = { start = { line = line1 - 1, character = 0 }, ["end"] = { line = line2, character = 0 } },
    instruction = opts.instruction ~= "" and opts.instruction or nil,
  }
  if action == "fix" then
    argument.diagnostics = M.diagnostics(bufnr, line1 - 1, line2 - 1, client.offset_encoding)
  end
  send(client, "codestral." .. action, argument, bufnr)
end

--- Cancel the running actions.
function M.cancel()
  for _, client in ipairs(vim.lsp.get_clients({ name = "codestral" })) do
    client:request("workspace/executeCommand", { command = "codestral.cancel", arguments = { vim.empty_dict() } },
      function(err, result)
        if err then
          notify(err.message, vim.log.levels.ERROR)
        elseif not (result and result.cancelled and result.cancelled > 0) then
          notify("nothing to cancel")
        end
      end)
  end
end

--- Print this session's tokens and estimated cost.
function M.usage()
  local client = vim.lsp.get_clients({ name = "codestral" })[1]
  if not client then
    notify(no_client_message(vim.api.nvim_get_current_buf()), vim.log.levels.WARN)
    return
  end
  client:request("workspace/executeCommand", { command = "codestral.usage" }, function(err, u)
    if err then
      notify(err.message, vim.log.levels.ERROR)
    else
      notify(("%d requests, %d tokens (%d in, %d out), about $%.4f"):format(
        u.requests, u.totalTokens, u.promptTokens, u.completionTokens, u.estimatedCostUsd))
    end
  end)
end

-- Requests this client sends, adjusted for what Neovim does with them:
-- * textDocument/codeAction: Neovim sends a client only its own diagnostics; send every
--   diagnostic on the requested lines, so "Codestral: Fix" is offered for ruff's, pyright's…
-- * textDocument/inlineCompletion: an item whose range is empty (an insertion at the cursor)
--   makes Neovim draw it as an overlay over the rest of the line, and its column goes stale on
--   <BS>; without the range it is drawn inline at the cursor. Nothing is asked for or shown
--   outside insert mode (a request made just before <Esc> answers after it).
local function adjust_requests(client)
  if client._codestral_adjusted then
    return
  end
  client._codestral_adjusted = true
  local request = client.request
  client.request = function(self, method, params, handler, bufnr, ...)
    if method == "textDocument/codeAction" and type(params) == "table" and params.range and params.context then
      local buf = vim.uri_to_bufnr(params.textDocument.uri)
      local first, last = params.range.start.line, params.range["end"].line
      if last > first and params.range["end"].character == 0 then
        last = last - 1
      end
      params = vim.deepcopy(params)
      local all = M.diagnostics(buf, first, last, self.offset_encoding)
      local seen = {}
      for _, d in ipairs(params.context.diagnostics or {}) do
        seen[vim.json.encode({ d.range, d.message })] = true
      end
      params.context.diagnostics = params.context.diagnostics or {}
      for _, d in ipairs(all) do
        if not seen[vim.json.encode({ d.range, d.message })] then
          table.insert(params.context.diagnostics, d)
        end
      end
    elseif method == "textDocument/inlineCompletion" and handler then
      if not vim.api.nvim_get_mode().mode:match("^i") then
        return false
      end
      local inner = handler
      handler = function(err, result, ctx, config)
        if not vim.api.nvim_get_mode().mode:match("^i") then
          return
        end
        for _, item in ipairs(result and (result.items or result) or {}) do
          local r = item.range
          if r and r.start.line == r["end"].line and r.start.character == r["end"].character then
            item.range = nil
          end
        end
        return inner(err, result, ctx, config)
      end
    end
    return request(self, method, params, handler, bufnr, ...)
  end
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

local function set_accept_key(bufnr)
  local key = M.config.accept_key
  if not key then
    return
  end
  vim.keymap.set("i", key, function()
    if not vim.lsp.inline_completion.get({ bufnr = bufnr }) then
      return key
    end
  end, { buffer = bufnr, expr = true, desc = "Codestral: accept the suggestion" })
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
      if value.kind == "end" then -- the outcome is said once, from the command's result
        return
      end
      local text = "Codestral: " .. bare(value.title or "")
      if value.message then
        text = text .. ": " .. value.message
      end
      text = text:gsub("%s*\n%s*", " ")
      vim.api.nvim_echo({ { vim.fn.strcharpart(text, 0, math.max(10, vim.o.columns - 14)) } }, false, {})
    end,
  })
end

local LEVELS = { vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.DEBUG }

--- Configure and enable the language server.
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  local cfg = M.config
  local settings = cfg.settings or {}
  local has_settings = type(settings) == "table" and next(settings) ~= nil
  local commands = {}
  for _, action in ipairs(ACTIONS) do
    commands["codestral." .. action] = function(command, ctx)
      local client = vim.lsp.get_client_by_id(ctx.client_id)
      if client then
        send(client, command.command, command.arguments and command.arguments[1], ctx.bufnr)
      end
    end
  end
  commands["codestral.custom"] = commands["codestral.refactor"]
  vim.lsp.config("codestral", {
    cmd = cfg.cmd,
    filetypes = cfg.filetypes,
    root_markers = cfg.root_markers,
    -- An empty Lua table would travel as [] (not an object): send no settings instead.
    init_options = has_settings and settings or nil,
    settings = has_settings and { codestral = settings } or nil,
    capabilities = {
      experimental = { codestral = { promptForInstruction = true, showsExplanations = true, reviewsEdits = true } },
    },
    commands = commands,
    handlers = {
      ["workspace/applyEdit"] = function(err, params, ctx)
        local result = vim.lsp.handlers["workspace/applyEdit"](err, params, ctx)
        if result and result.applied and params then
          require("codestral.review").flash(params.edit)
        end
        return result
      end,
      ["window/showMessage"] = function(_, params)
        if params.type ~= 4 then -- Log messages belong in the log
          notify(params.message, LEVELS[params.type] or vim.log.levels.INFO)
        end
      end,
    },
    on_attach = function(client, bufnr)
      adjust_requests(client)
      if cfg.inline_completion and vim.lsp.inline_completion then
        vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
        set_accept_key(bufnr)
      end
    end,
  })
  missing_command = nil
  if type(cfg.cmd) == "table" and vim.fn.executable(cfg.cmd[1]) ~= 1 then
    missing_command = cfg.cmd[1]
    configured = true
    -- Said when a Codestral command is used (and by :checkhealth): a message during start-up
    -- would need a hit-enter prompt.
  else
    vim.lsp.enable("codestral")
  end
  require("codestral.commands").create()
  require("codestral.review").setup()
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

function M.missing_command()
  return missing_command
end

return M
