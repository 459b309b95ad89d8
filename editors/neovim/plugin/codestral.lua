-- codestral.nvim: the :Codestral* commands (they work once require("codestral").setup() ran).
if vim.g.loaded_codestral then
  return
end
vim.g.loaded_codestral = 1
require("codestral.commands").create()
