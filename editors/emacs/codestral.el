;;; codestral.el --- Mistral's Codestral through codestral-lsp and eglot -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, languages, ai

;;; Commentary:

;; Registers the codestral-lsp language server with eglot and adds commands that run
;; Codestral on the region: explain, refactor, fix, document, tests, edit with an instruction.
;; The code actions (M-x eglot-code-actions on a region) offer the same.
;;
;;   (require 'codestral)
;;   (setq codestral-settings '(:model "codestral-latest"))   ; optional
;;   (add-hook 'python-mode-hook #'eglot-ensure)
;;
;; The key comes from the environment: CODESTRAL_API_KEY or MISTRAL_API_KEY.

;;; Code:

(require 'eglot)
(require 'jsonrpc)
(require 'cl-lib)

(defgroup codestral nil
  "Mistral's Codestral through the codestral-lsp language server."
  :group 'tools)

(defcustom codestral-server-command '("codestral-lsp")
  "Command that starts the language server."
  :type '(repeat string))

(defcustom codestral-major-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode
    go-mode go-ts-mode rust-mode rust-ts-mode c-mode c-ts-mode c++-mode c++-ts-mode
    java-mode java-ts-mode ruby-mode ruby-ts-mode sh-mode bash-ts-mode)
  "Major modes that use codestral-lsp.
eglot runs one server per mode: a mode listed here uses codestral-lsp
instead of its usual language server."
  :type '(repeat symbol))

(defcustom codestral-settings nil
  "Server settings (a plist such as (:model \"codestral-latest\" :temperature 0.2)).
Sent as initializationOptions; see the codestral-lsp README for every key."
  :type 'plist)

(defun codestral-register ()
  "Tell eglot to use codestral-lsp for `codestral-major-modes'."
  (setq eglot-server-programs
        (cons (cons codestral-major-modes
                    (append codestral-server-command
                            (list :initializationOptions (or codestral-settings '(:model "codestral-latest")))))
              (cl-remove-if (lambda (entry) (equal (car entry) codestral-major-modes))
                            eglot-server-programs))))

(codestral-register)

(defun codestral--argument (beg end &rest extra)
  "The command argument for the region BEG..END, plus EXTRA keys."
  (append (list :uri (eglot--path-to-uri (buffer-file-name))
                :range (list :start (eglot--pos-to-lsp-position beg)
                             :end (eglot--pos-to-lsp-position end)))
          extra))

(defun codestral--show (result)
  "Show RESULT of an action: the explanation, or its status."
  (let ((markdown (plist-get result :markdown))
        (message-text (plist-get result :message)))
    (cond
     (markdown
      (with-current-buffer (get-buffer-create "*Codestral*")
        (let ((inhibit-read-only t))
          (erase-buffer)
          (insert markdown)
          (goto-char (point-min))
          (if (fboundp 'markdown-mode) (markdown-mode) (text-mode))
          (view-mode 1))
        (display-buffer (current-buffer))))
     (message-text (message "Codestral: %s" message-text)))))

(defun codestral--run (action beg end &rest extra)
  "Run codestral.ACTION on BEG..END with EXTRA argument keys, without blocking Emacs."
  (let ((server (eglot--current-server-or-lose)))
    (jsonrpc-async-request
     server :workspace/executeCommand
     (list :command (format "codestral.%s" action)
           :arguments (vector (apply #'codestral--argument beg end extra)))
     :success-fn #'codestral--show
     :error-fn (lambda (error) (message "Codestral: %s" (plist-get error :message))))
    (message "Codestral: %s…" action)))

(defun codestral--region ()
  "The region's bounds, or an error asking for one."
  (if (use-region-p)
      (list (region-beginning) (region-end))
    (user-error "Select the code first")))

(defmacro codestral--define-region-command (action doc)
  "Define `codestral-ACTION', an interactive command running ACTION on the region; DOC."
  `(defun ,(intern (format "codestral-%s" action)) (beg end)
     ,doc
     (interactive (codestral--region))
     (codestral--run ,action beg end)))

(codestral--define-region-command "explain" "Explain the code between BEG and END.")
(codestral--define-region-command "refactor" "Refactor the code between BEG and END.")
(codestral--define-region-command "document" "Add documentation to the code between BEG and END.")
(codestral--define-region-command "tests" "Write tests for the code between BEG and END.")

(defun codestral-fix (beg end)
  "Fix the diagnostics eglot reports between BEG and END."
  (interactive (codestral--region))
  (let ((diagnostics (cl-loop for diag in (flymake-diagnostics beg end)
                              when (cdr (assoc 'eglot-lsp-diag (eglot--diag-data diag)))
                              collect it)))
    (codestral--run "fix" beg end :diagnostics (vconcat diagnostics))))

(defun codestral-edit (beg end instruction)
  "Change the code between BEG and END as INSTRUCTION says."
  (interactive (append (codestral--region) (list (read-string "Codestral edit: "))))
  (codestral--run "edit" beg end :instruction instruction))

(defun codestral-cancel ()
  "Cancel the running Codestral actions."
  (interactive)
  (let ((result (jsonrpc-request (eglot--current-server-or-lose) :workspace/executeCommand
                                 '(:command "codestral.cancel" :arguments []))))
    (message "Codestral: cancelled %s action(s)" (plist-get result :cancelled))))

(defun codestral-usage ()
  "Show the tokens and estimated cost of this session."
  (interactive)
  (let ((u (jsonrpc-request (eglot--current-server-or-lose) :workspace/executeCommand
                            '(:command "codestral.usage" :arguments []))))
    (message "Codestral: %s requests, %s tokens, about $%.4f"
             (plist-get u :requests) (plist-get u :totalTokens) (plist-get u :estimatedCostUsd))))

(provide 'codestral)
;;; codestral.el ends here
