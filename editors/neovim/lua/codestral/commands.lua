--- The :Codestral* user commands.
local M = {}

local function range_command(name, action, opts)
  vim.api.nvim_create_user_command(name, function(args)
    require("codestral").run(action, { line1 = args.line1, line2 = args.line2, instruction = args.args })
  end, vim.tbl_extend("force", { range = true, desc = "Codestral: " .. action }, opts or {}))
end

--- Create the commands (idempotent).
function M.create()
  range_command("CodestralExplain", "explain")
  range_command("CodestralRefactor", "refactor", { nargs = "?" })
  range_command("CodestralFix", "fix")
  range_command("CodestralDocument", "document")
  range_command("CodestralTests", "tests")
  range_command("CodestralEdit", "edit", { nargs = "?" })
  range_command("CodestralReview", "review") -- findings arrive as diagnostics (vim.diagnostic)
  vim.api.nvim_create_user_command("CodestralClearReview", function()
    for _, client in ipairs(vim.lsp.get_clients({ name = "codestral" })) do
      client:exec_cmd({ title = "clear review", command = "codestral.clearReview", arguments = { vim.empty_dict() } })
    end
  end, { desc = "Codestral: remove the review's diagnostics" })
  vim.api.nvim_create_user_command("CodestralModels", function()
    local client = vim.lsp.get_clients({ name = "codestral" })[1]
    if not client then return end
    client:exec_cmd({ title = "models", command = "codestral.models" }, {}, function(err, r)
      local lines = {}
      for _, m in ipairs((r and r.models) or {}) do
        lines[#lines + 1] = ("%s  %s tokens%s"):format(m.id, m.contextLength or "?", m.fim and "  FIM" or "")
      end
      vim.notify(err and err.message or table.concat(lines, "\n"), err and vim.log.levels.ERROR or vim.log.levels.INFO)
    end)
  end, { desc = "Codestral: the endpoint's models" })
  vim.api.nvim_create_user_command("CodestralAccept", function()
    require("codestral.review").accept()
  end, { desc = "Codestral: accept the proposal under the cursor" })
  vim.api.nvim_create_user_command("CodestralReject", function()
    require("codestral.review").reject()
  end, { desc = "Codestral: reject the proposal under the cursor" })
  vim.api.nvim_create_user_command("CodestralRetry", function(args)
    require("codestral.review").retry(args.args)
  end, { nargs = "?", desc = "Codestral: ask again for the proposal under the cursor, with an instruction" })
  vim.api.nvim_create_user_command("CodestralCancel", function()
    require("codestral").cancel()
  end, { desc = "Codestral: cancel running actions" })
  vim.api.nvim_create_user_command("CodestralUsage", function()
    require("codestral").usage()
  end, { desc = "Codestral: tokens and cost of this session" })
end

return M
