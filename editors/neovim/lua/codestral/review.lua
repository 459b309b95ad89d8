--- codestral.nvim: the code an action works on, marked while the model writes; proposals shown
--- as an inline diff to accept, reject or retry; the lines an edit changed, highlighted briefly.
local M = {}

local api = vim.api
local NS_PENDING = api.nvim_create_namespace("codestral.pending")
local NS_PROPOSAL = api.nvim_create_namespace("codestral.proposal")
local NS_CHANGED = api.nvim_create_namespace("codestral.changed")
M.namespaces = { pending = NS_PENDING, proposal = NS_PROPOSAL, changed = NS_CHANGED }

local HIGHLIGHTS = {
  CodestralPending = "Visual", -- the code being rewritten
  CodestralProgress = "DiagnosticInfo", -- the progress beside it
  CodestralRemoved = "DiffDelete", -- lines a proposal removes
  CodestralAdded = "DiffAdd", -- lines a proposal adds (virtual lines)
  CodestralHint = "DiagnosticHint", -- the proposal's summary and keys
  CodestralChanged = "DiffText", -- lines an applied edit changed, for a moment
}

local function set_highlights()
  for name, target in pairs(HIGHLIGHTS) do
    api.nvim_set_hl(0, name, { link = target, default = true })
  end
end

local function config()
  return require("codestral").config
end

local function say(message, level)
  require("codestral").notify(message, level)
end

-- The rows (0-based, inclusive) an LSP range of whole lines covers in a buffer.
local function rows(bufnr, range)
  local first, last = range.start.line, range["end"].line
  if last > first and range["end"].character == 0 then
    last = last - 1
  end
  local count = api.nvim_buf_line_count(bufnr)
  first = math.max(0, math.min(first, count - 1))
  return first, math.max(first, math.min(last, count - 1))
end

local function capitalized(action)
  action = tostring(action or "")
  return action:sub(1, 1):upper() .. action:sub(2)
end

-- -- The region marked while an action runs ------------------------------------------------------

local pending = {} -- running actions, oldest first: {bufnr, id, client_id, token?}

local function pending_opts(end_row, end_col, text, id)
  return {
    id = id,
    end_row = end_row,
    end_col = end_col,
    strict = false,
    hl_group = "CodestralPending",
    hl_eol = true,
    virt_text = { { " ◆ " .. text:gsub("%s*\n%s*", " "), "CodestralProgress" } },
    virt_text_pos = "eol",
    priority = 90,
  }
end

--- Mark rows of `range` (LSP, whole lines) in `bufnr` while `action` runs; returns a handle for
--- `finish`. The mark shows the latest progress of the job at the end of its first line.
function M.start(client_id, bufnr, range, action)
  if not (range and range.start and api.nvim_buf_is_valid(bufnr)) then
    return nil
  end
  local first, last = rows(bufnr, range)
  local ok, id = pcall(api.nvim_buf_set_extmark, bufnr, NS_PENDING, first, 0,
    pending_opts(last + 1, 0, "Codestral: " .. capitalized(action) .. "…"))
  if not ok then
    return nil
  end
  local handle = { bufnr = bufnr, id = id, client_id = client_id }
  table.insert(pending, handle)
  return handle
end

--- Remove a mark made by `start` (whatever the outcome).
function M.finish(handle)
  if not handle then
    return
  end
  for i, h in ipairs(pending) do
    if h == handle then
      table.remove(pending, i)
      break
    end
  end
  if api.nvim_buf_is_valid(handle.bufnr) then
    pcall(api.nvim_buf_del_extmark, handle.bufnr, NS_PENDING, handle.id)
  end
end

-- Progress of the server's jobs: a `begin` belongs to the oldest running action that has none yet.
local function on_progress(ev)
  local params = ev.data and ev.data.params or {}
  local value = params.value or {}
  local handle
  for _, h in ipairs(pending) do
    if h.token == params.token and h.client_id == ev.data.client_id then
      handle = h
      break
    end
  end
  if not handle and value.kind == "begin" then
    for _, h in ipairs(pending) do
      if h.token == nil and h.client_id == ev.data.client_id then
        handle, h.token = h, params.token
        break
      end
    end
  end
  if not handle or value.kind == "end" or not api.nvim_buf_is_valid(handle.bufnr) then
    return
  end
  handle.title = value.title or handle.title
  local text = require("codestral").bare(handle.title or "Codestral")
  if value.message then
    text = text .. ": " .. value.message
  end
  local mark = api.nvim_buf_get_extmark_by_id(handle.bufnr, NS_PENDING, handle.id, { details = true })
  if mark and mark[1] then
    local opts = pending_opts(mark[3].end_row, mark[3].end_col, "Codestral: " .. text, handle.id)
    pcall(api.nvim_buf_set_extmark, handle.bufnr, NS_PENDING, mark[1], mark[2], opts)
  end
end

-- -- Proposals ----------------------------------------------------------------------------------

local proposals = {} -- jobId -> {job, bufnr, client_id, action, anchor, marks}
local saved_maps = {} -- bufnr -> {lhs -> the buffer's own mapping it replaced}

local function in_buffer(bufnr)
  local out = {}
  for _, p in pairs(proposals) do
    if p.bufnr == bufnr then
      table.insert(out, p)
    end
  end
  table.sort(out, function(a, b)
    return a.seq < b.seq
  end)
  return out
end

local function anchor_rows(p)
  local mark = api.nvim_buf_get_extmark_by_id(p.bufnr, NS_PROPOSAL, p.anchor, { details = true })
  if not (mark and mark[1]) then
    return nil
  end
  return mark[1], math.max(mark[1], mark[3].end_row or mark[1])
end

--- The LSP range (whole lines) a proposal covers now.
local function anchor_range(p)
  local first, last = anchor_rows(p)
  if not first then
    return nil
  end
  return { start = { line = first, character = 0 }, ["end"] = { line = last + 1, character = 0 } }
end

local function keys()
  local k = config().review_keys
  return type(k) == "table" and k or {}
end

local function set_keys(bufnr)
  if saved_maps[bufnr] or not config().review_keys then
    return
  end
  saved_maps[bufnr] = {}
  local actions = {
    accept = { M.accept, "Codestral: accept the proposal" },
    reject = { M.reject, "Codestral: reject the proposal" },
    retry = { M.retry, "Codestral: retry the proposal with an instruction" },
  }
  for name, lhs in pairs(keys()) do
    if lhs and actions[name] then
      local own = vim.fn.maparg(lhs, "n", false, true)
      saved_maps[bufnr][lhs] = (own.buffer == 1) and own or false
      vim.keymap.set("n", lhs, function()
        actions[name][1]()
      end, { buffer = bufnr, nowait = true, desc = actions[name][2] })
    end
  end
end

local function restore_keys(bufnr)
  local saved = saved_maps[bufnr]
  saved_maps[bufnr] = nil
  if not saved or not api.nvim_buf_is_valid(bufnr) then
    return
  end
  for lhs, own in pairs(saved) do
    pcall(vim.keymap.del, "n", lhs, { buffer = bufnr })
    if own then
      api.nvim_buf_call(bufnr, function()
        vim.fn.mapset("n", false, own)
      end)
    end
  end
end

--- Remove a proposal's diff and hint (the server's side is answered by the caller).
local function close(p)
  proposals[p.job] = nil
  if api.nvim_buf_is_valid(p.bufnr) then
    for _, id in ipairs(p.marks) do
      pcall(api.nvim_buf_del_extmark, p.bufnr, NS_PROPOSAL, id)
    end
    pcall(api.nvim_buf_del_extmark, p.bufnr, NS_PROPOSAL, p.anchor)
  end
  if #in_buffer(p.bufnr) == 0 then
    restore_keys(p.bufnr)
  end
end

--- Forget the proposals of a buffer that overlap rows first..last (a new action there replaces
--- them on the server), or all of the buffer's with no rows.
function M.drop(bufnr, first, last)
  bufnr = bufnr == 0 and api.nvim_get_current_buf() or bufnr
  for _, p in ipairs(in_buffer(bufnr)) do
    local a, b = anchor_rows(p)
    if first == nil or not a or (a <= last and b >= first) then
      close(p)
    end
  end
end

-- Tabs expanded to spaces as the buffer shows them.
local function expand(text, tabstop)
  local out, col = {}, 0
  for char in text:gmatch("[%z\1-\127\194-\244][\128-\191]*") do
    if char == "\t" then
      local n = tabstop - col % tabstop
      table.insert(out, string.rep(" ", n))
      col = col + n
    else
      table.insert(out, char)
      col = col + vim.fn.strdisplaywidth(char)
    end
  end
  return table.concat(out), col
end

--- The hunks of a unified diff: {old = first old line (1-based), lines = {"-x", "+y", " z"}}.
function M.hunks(diff)
  local hunks, current = {}, nil
  for _, line in ipairs(vim.split(diff or "", "\n", { plain = true })) do
    line = line:gsub("\r$", "")
    local old = line:match("^@@ %-(%d+)")
    if old then
      current = { old = tonumber(old), lines = {} }
      table.insert(hunks, current)
    elseif current and line:match("^[-+ ]") then
      table.insert(current.lines, line)
    end
  end
  return hunks
end

-- Draw one proposal: removed lines highlighted (sign "-"), added lines as virtual lines below
-- them (sign "+"), a hint above the range naming the keys.
local function render(p, result, win)
  local bufnr = p.bufnr
  local count = api.nvim_buf_line_count(bufnr)
  local tabstop = vim.bo[bufnr].tabstop
  local info = vim.fn.getwininfo(win)[1] or { textoff = 0, width = vim.o.columns }
  local width = math.max(1, info.width - info.textoff)
  -- The sign column (shown while a proposal is open, see the range mark below) holds the "+".
  local leftcol = info.textoff >= 2
  local function mark(row, opts)
    local ok, id = pcall(api.nvim_buf_set_extmark, bufnr, NS_PROPOSAL, math.min(row, count - 1), 0, opts)
    if ok then
      table.insert(p.marks, id)
    end
  end
  local function added(lines, row, above)
    local virt = {}
    for _, text in ipairs(lines) do
      local shown, cols = expand(text, tabstop)
      local chunks = {}
      if leftcol then
        table.insert(chunks, { string.rep(" ", info.textoff - 2) .. "+ ", "CodestralAdded" })
      end
      table.insert(chunks, { shown .. string.rep(" ", math.max(0, width - cols)), "CodestralAdded" })
      table.insert(virt, chunks)
    end
    mark(row, { virt_lines = virt, virt_lines_above = above, virt_lines_leftcol = leftcol })
  end
  for _, hunk in ipairs(M.hunks(result.diff)) do
    local old, removed_last, adds = hunk.old, nil, {}
    local function flush()
      if #adds > 0 then
        if removed_last then
          added(adds, removed_last, false)
        elseif old > 1 then
          added(adds, old - 2, false)
        else
          added(adds, 0, true)
        end
      end
      adds, removed_last = {}, nil
    end
    for _, line in ipairs(hunk.lines) do
      local tag, text = line:sub(1, 1), line:sub(2)
      if tag == "-" then
        if #adds > 0 then
          flush()
        end
        mark(old - 1, {
          line_hl_group = "CodestralRemoved",
          sign_text = "-",
          sign_hl_group = "CodestralRemoved",
          priority = 200,
        })
        removed_last, old = old - 1, old + 1
      elseif tag == "+" then
        table.insert(adds, text)
      else
        flush()
        old = old + 1
      end
    end
    flush()
  end
  -- The hint: what is proposed, and how to answer.
  local summary = require("codestral").bare(result.message or (capitalized(p.action) .. " proposes a change"))
  summary = summary:gsub("[:.]?%s*[Aa]ccept or reject%.?$", "")
  local k = keys()
  local how = {}
  for _, name in ipairs({ "accept", "reject", "retry" }) do
    if k[name] and config().review_keys then
      table.insert(how, vim.fn.keytrans(vim.keycode(k[name])) .. " " .. name)
    end
  end
  local answers = #how > 0 and table.concat(how, " · ") or ":CodestralAccept · :CodestralReject · :CodestralRetry"
  local hint = ("Codestral: %s — %s"):format(summary, answers)
  p.hint = hint
  local virt = { { { hint, "CodestralHint" } } }
  if vim.fn.strdisplaywidth(hint) > width then -- two lines rather than keys cut off
    virt = { { { "Codestral: " .. summary, "CodestralHint" } }, { { answers, "CodestralHint" } } }
  end
  local first, last = anchor_rows(p)
  first, last = first or 0, last or 0
  if first > 0 then
    mark(first, { virt_lines = virt, virt_lines_above = true })
  else -- a virtual line above the first line would need scrolling to be seen
    mark(last, { virt_lines = virt })
  end
end

local seq = 0

-- The server's reviewExpirySeconds, as this client sent it (900 unless set).
local function expiry_seconds(client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  local settings = client and client.settings and client.settings.codestral or {}
  local init = client and client.config and client.config.init_options or {}
  local value = tonumber(settings.reviewExpirySeconds or init.reviewExpirySeconds) or 900
  return math.max(1, math.min(value, 86400))
end

--- Show a "proposed" result of `action` from `client_id` (see the server's review contract);
--- returns its hint (what is proposed and the keys that answer it).
function M.show(client_id, bufnr, action, result)
  if result.uri then
    bufnr = vim.uri_to_bufnr(result.uri)
  elseif bufnr == 0 then
    bufnr = api.nvim_get_current_buf()
  end
  if not api.nvim_buf_is_valid(bufnr) then
    return
  end
  local range = result.range or { start = { line = 0, character = 0 }, ["end"] = { line = 0, character = 0 } }
  local first, last = rows(bufnr, range)
  M.drop(bufnr, first, last)
  seq = seq + 1
  local p = { job = result.jobId, bufnr = bufnr, client_id = client_id, action = action, marks = {}, seq = seq }
  -- The range, followed through edits; its sign keeps the sign column open for the "+" signs.
  p.anchor = api.nvim_buf_set_extmark(bufnr, NS_PROPOSAL, first, 0, {
    end_row = last,
    end_col = #(api.nvim_buf_get_lines(bufnr, last, last + 1, false)[1] or ""),
    end_right_gravity = true,
    sign_text = "│",
    sign_hl_group = "CodestralHint",
    priority = 10,
  })
  proposals[p.job] = p
  local win = vim.fn.bufwinid(bufnr)
  if win ~= -1 then
    vim.cmd.redraw() -- the sign column opens: the "+" signs of added lines are drawn in it
  end
  render(p, result, win ~= -1 and win or api.nvim_get_current_win())
  set_keys(bufnr)
  -- The server expires it after reviewExpirySeconds and says so: the diff goes then too.
  vim.defer_fn(function()
    if proposals[p.job] == p then
      close(p)
    end
  end, math.floor(expiry_seconds(client_id) * 1000) + 300)
  return p.hint
end

--- The open proposal the cursor is in (or the buffer's nearest one); says so when there is none.
function M.current()
  local bufnr = api.nvim_get_current_buf()
  local row = api.nvim_win_get_cursor(0)[1] - 1
  local best, distance = nil, math.huge
  for _, p in ipairs(in_buffer(bufnr)) do
    local first, last = anchor_rows(p)
    if first then
      local d = (row < first and first - row) or (row > last and row - last) or 0
      if d < distance then
        best, distance = p, d
      end
    end
  end
  if not best then
    say("no Codestral proposal is open in this buffer", vim.log.levels.WARN)
  end
  return best
end

local function answer(p, argument, action_name, range)
  local client = vim.lsp.get_client_by_id(p.client_id)
  close(p)
  if not client then
    say("the server for this proposal is no longer running; run the action again", vim.log.levels.WARN)
    return
  end
  require("codestral").request(client, action_name, argument, p.bufnr, p.action, range)
end

--- Accept the proposal under the cursor: the server applies it (version-guarded).
function M.accept(p)
  p = p or M.current()
  if p then
    answer(p, { jobId = p.job }, "codestral.accept")
  end
end

--- Reject the proposal under the cursor: nothing changes.
function M.reject(p)
  p = p or M.current()
  if p then
    answer(p, { jobId = p.job }, "codestral.reject")
  end
end

--- Ask again with an instruction (asked once when not given): a new proposal replaces this one.
function M.retry(instruction, p)
  p = p or M.current()
  if not p then
    return
  end
  local function go(text)
    if proposals[p.job] ~= p then
      say("that proposal is no longer open; run the action again", vim.log.levels.WARN)
      return
    end
    answer(p, { jobId = p.job, instruction = text }, "codestral.accept", anchor_range(p))
  end
  if instruction and vim.trim(instruction) ~= "" then
    go(instruction)
  else
    vim.ui.input({ prompt = "Codestral retry: " }, function(text)
      if text and vim.trim(text) ~= "" then
        go(text)
      end
    end)
  end
end

--- The open proposals (for tests and status lines): {jobId, bufnr, action, first, last}.
function M.list()
  local out = {}
  for _, p in pairs(proposals) do
    local first, last = anchor_rows(p)
    table.insert(out, { jobId = p.job, bufnr = p.bufnr, action = p.action, first = first, last = last })
  end
  return out
end

-- -- Changed lines, highlighted briefly ----------------------------------------------------------

-- The rows (after the edit) that a list of TextEdits of one document changed.
function M.changed_rows(edits)
  edits = vim.deepcopy(edits or {})
  table.sort(edits, function(a, b)
    local x, y = a.range.start, b.range.start
    return x.line < y.line or (x.line == y.line and x.character < y.character)
  end)
  local out, delta = {}, 0
  for _, e in ipairs(edits) do
    local text = e.newText or ""
    local _, newlines = text:gsub("\n", "")
    local first = e.range.start.line + delta
    local last = first + newlines
    if newlines > 0 and text:sub(-1) == "\n" then
      last = last - 1
    end
    for row = first, last do
      out[#out + 1] = row
    end
    delta = delta + newlines - (e.range["end"].line - e.range.start.line)
  end
  return out
end

--- Highlight, for `highlight_changes` ms, the lines a WorkspaceEdit changed (after it applied).
function M.flash(edit)
  local ms = config().highlight_changes
  if not ms or ms == 0 or type(edit) ~= "table" then
    return
  end
  local per_uri = {}
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument and change.edits then
      per_uri[change.textDocument.uri] = vim.list_extend(per_uri[change.textDocument.uri] or {}, change.edits)
    end
  end
  for uri, edits in pairs(edit.changes or {}) do
    per_uri[uri] = vim.list_extend(per_uri[uri] or {}, edits)
  end
  for uri, edits in pairs(per_uri) do
    local bufnr = vim.uri_to_bufnr(uri)
    if api.nvim_buf_is_loaded(bufnr) then
      local ids = {}
      local count = api.nvim_buf_line_count(bufnr)
      for _, row in ipairs(M.changed_rows(edits)) do
        if row < count then
          table.insert(ids, api.nvim_buf_set_extmark(bufnr, NS_CHANGED, row, 0, {
            line_hl_group = "CodestralChanged",
            priority = 150,
          }))
        end
      end
      vim.defer_fn(function()
        if api.nvim_buf_is_valid(bufnr) then
          for _, id in ipairs(ids) do
            pcall(api.nvim_buf_del_extmark, bufnr, NS_CHANGED, id)
          end
        end
      end, ms)
    end
  end
end

--- Highlights and autocommands (idempotent).
function M.setup()
  set_highlights()
  local group = api.nvim_create_augroup("codestral_review", { clear = true })
  api.nvim_create_autocmd("ColorScheme", { group = group, callback = set_highlights })
  api.nvim_create_autocmd("LspProgress", {
    group = group,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client and client.name == "codestral" then
        on_progress(ev)
      end
    end,
  })
  api.nvim_create_autocmd({ "BufWipeout", "BufUnload" }, {
    group = group,
    callback = function(ev)
      M.drop(ev.buf)
    end,
  })
  api.nvim_create_autocmd("LspDetach", {
    group = group,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if not (client and client.name == "codestral") then
        return
      end
      for i = #pending, 1, -1 do
        if pending[i].bufnr == ev.buf and pending[i].client_id == client.id then
          M.finish(pending[i])
        end
      end
      for _, p in ipairs(in_buffer(ev.buf)) do
        if p.client_id == client.id then
          close(p)
        end
      end
    end,
  })
end

return M
