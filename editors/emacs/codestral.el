;;; codestral.el --- Mistral's Codestral through codestral-lsp and eglot -*- lexical-binding: t; -*-

;; Version: 0.2.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, languages, ai

;;; Commentary:

;; Runs the codestral-lsp language server with eglot, beside the server you already use for
;; the buffer's mode (pyright, gopls, ruff, ...): both are joined by the LSP multiplexer
;; `rass' (pip install rassumfrassum), so eglot sees one server with both servers' features.
;; Without `rass' your own server runs alone and you are told why; in a mode that has no
;; server of its own, codestral-lsp runs alone.
;;
;;   (require 'codestral)
;;   (setq codestral-settings '(:model "codestral-latest"))   ; optional, any time
;;   (add-hook 'python-mode-hook #'eglot-ensure)
;;
;; Every Codestral action runs asynchronously, whether started from `eglot-code-actions' or
;; from the commands `codestral-explain', `codestral-refactor', `codestral-fix',
;; `codestral-document', `codestral-tests', `codestral-edit', `codestral-review' (findings
;; arrive as Flymake diagnostics; `codestral-clear-review' removes them).  Progress shows in the mode
;; line; `codestral-cancel' stops it.  A rewrite under review (server setting `review')
;; opens as a diff in `*codestral-review*': C-c C-c accepts, C-c C-k rejects, C-c C-r asks
;; again with an instruction.  The key comes from the environment:
;; CODESTRAL_API_KEY or MISTRAL_API_KEY.

;;; Code:

(require 'eglot)
(require 'jsonrpc)
(require 'cl-lib)
(require 'subr-x)
(require 'diff-mode)

(defgroup codestral nil
  "Mistral's Codestral through the codestral-lsp language server."
  :group 'tools)

(defcustom codestral-server-command '("codestral-lsp")
  "Command that starts the codestral-lsp language server."
  :type '(repeat string))

(defcustom codestral-multiplexer-command '("rass")
  "Command of the LSP multiplexer that runs codestral-lsp beside a mode's own server.
It is called as COMMAND -- THEIR-SERVER... -- CODESTRAL-SERVER...  Set it to nil to
never multiplex (then a mode with its own server does not get codestral-lsp)."
  :type '(choice (const :tag "Never multiplex" nil) (repeat string)))

(defcustom codestral-rass-preset
  (expand-file-name "codestral-rass.py" (file-name-directory (or load-file-name buffer-file-name)))
  "The rass preset file passed first to `codestral-multiplexer-command', or nil.
It makes rass wait for every server to start instead of 3 s."
  :type '(choice (const nil) file))

(defcustom codestral-major-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode
    go-mode go-ts-mode rust-mode rust-ts-mode c-mode c-ts-mode c++-mode c++-ts-mode
    java-mode java-ts-mode ruby-mode ruby-ts-mode sh-mode bash-ts-mode)
  "Major modes in which eglot runs codestral-lsp (beside the mode's own server)."
  :type '(repeat symbol))

(defcustom codestral-settings nil
  "Server settings, a plist such as (:model \"codestral-latest\" :temperature 0.2).
Read each time the server asks for its configuration (when it starts, and after
\\[codestral-reload-settings]), so it can be set before or after loading codestral.el."
  :type 'plist)

(defclass codestral-eglot-server (eglot-lsp-server) ()
  :documentation "An eglot connection that includes codestral-lsp (alone or multiplexed).")

;;; Starting the server beside the mode's own one

(defun codestral--entry-modes (key)
  "The major modes an `eglot-server-programs' KEY names."
  (cond ((symbolp key) (list key))
        ((and (consp key) (keywordp (cadr key))) (list (car key)))
        (t (mapcar (lambda (k) (if (consp k) (car k) k)) key))))

(defun codestral--their-contact (mode interactive)
  "The contact eglot would use for MODE without codestral.el, or nil.
INTERACTIVE is passed to a contact function."
  (cl-loop for (key . contact) in eglot-server-programs
           unless (eq contact #'codestral-eglot-contact)
           when (cl-some (lambda (m) (provided-mode-derived-p mode m)) (codestral--entry-modes key))
           return (if (functionp contact) (funcall contact interactive) contact)))

(defun codestral--program (contact)
  "CONTACT's program and arguments when it is a plain command (maybe with a plist), else nil."
  (let ((contact (if (and (consp contact) (eq (car contact) 'eglot-lsp-server)) (cdr contact) contact)))
    (when (and (consp contact) (stringp (car contact)))
      (let ((program (cl-loop for part in contact while (stringp part) collect part)))
        (when (or (cdr program) (null (cdr contact)) (keywordp (cadr contact)))
          program)))))

(defvar codestral--warned nil "Warnings already given, so each is given once.")

(defun codestral--warn-once (format-string &rest args)
  "Show FORMAT-STRING with ARGS once per session."
  (let ((text (apply #'format format-string args)))
    (unless (member text codestral--warned)
      (push text codestral--warned)
      (display-warning 'codestral text :warning))))

(defun codestral-eglot-contact (&optional interactive)
  "The eglot contact for the current buffer: codestral-lsp beside the mode's own server.
INTERACTIVE is non-nil when eglot was called interactively."
  (let* ((theirs (condition-case nil     ; e.g. none of eglot's alternatives is installed
                     (codestral--their-contact major-mode interactive)
                   (error nil)))
         (program (codestral--program theirs))
         (multiplexer (and codestral-multiplexer-command
                           (executable-find (car codestral-multiplexer-command))
                           codestral-multiplexer-command)))
    (cond
     ((or (null theirs) (and program (not (executable-find (car program)))))
      ;; no server of the mode's own could start: codestral-lsp alone
      `(codestral-eglot-server ,@codestral-server-command))
     ((null program)
      (codestral--warn-once "codestral-lsp cannot run beside the %s server %S; it runs alone."
                            major-mode theirs)
      theirs)
     ((not (executable-find (car codestral-server-command)))
      (codestral--warn-once
       "`%s' was not found, so codestral-lsp is not running beside %s; see `codestral-server-command'."
       (car codestral-server-command) (car program))
      theirs)
     ((null multiplexer)
      (codestral--warn-once
       "`%s' was not found, so codestral-lsp is not running beside %s; pip install rassumfrassum."
       (or (car codestral-multiplexer-command) "rass") (car program))
      theirs)
     (t `(codestral-eglot-server
          ,@multiplexer
          ,@(and codestral-rass-preset (file-exists-p codestral-rass-preset) (list codestral-rass-preset))
          "--" ,@program "--" ,@codestral-server-command)))))

(defun codestral-setup ()
  "Make eglot run codestral-lsp beside each of `codestral-major-modes'' own server.
Called when codestral.el is loaded; call it again after changing `codestral-major-modes'."
  (interactive)
  (setq eglot-server-programs
        (cons (cons codestral-major-modes #'codestral-eglot-contact)
              (cl-remove #'codestral-eglot-contact eglot-server-programs :key #'cdr))))

(codestral-setup)

;;; What the client declares, and the settings it hands out

(cl-defmethod eglot-client-capabilities :around ((_server codestral-eglot-server))
  "Declare progress support and the flags codestral-lsp reads from its own plugins."
  (let* ((caps (copy-sequence (cl-call-next-method)))
         (window (copy-sequence (plist-get caps :window))))
    (setq caps (plist-put caps :window (plist-put window :workDoneProgress t)))
    (plist-put caps :experimental
               (list :codestral (list :promptForInstruction t :showsExplanations t
                                      :reviewsEdits t)))))

(defun codestral--settings-object ()
  "`codestral-settings' as a JSON object (never an empty list)."
  (or codestral-settings (make-hash-table)))

(defun codestral--merge-settings (configured)
  "`codestral-settings' with CONFIGURED (a plist from `eglot-workspace-configuration') on top."
  (let ((merged (copy-sequence codestral-settings)))
    (when (and configured (listp configured))
      (cl-loop for (key value) on configured by #'cddr
               do (setq merged (plist-put merged key value))))
    (or merged (make-hash-table))))

(cl-defmethod eglot-handle-request :around
  ((_server codestral-eglot-server) (_method (eql workspace/configuration)) &key items)
  "Answer the \"codestral\" section from `codestral-settings', read now; others as eglot does."
  (let ((answers (cl-call-next-method)))
    (cl-loop for item across items
             for i from 0
             when (equal (plist-get item :section) "codestral")
             do (let ((configured (aref answers i)))
                  (aset answers i (codestral--merge-settings configured))))
    answers))

(defun codestral-reload-settings ()
  "Make the running server read `codestral-settings' again."
  (interactive)
  (jsonrpc-notify (eglot--current-server-or-lose) :workspace/didChangeConfiguration
                  (list :settings (list :codestral (codestral--settings-object))))
  (message "Codestral: settings sent"))

(defface codestral-streaming '((t :inherit secondary-selection))
  "The code an action is rewriting, while its answer streams."
  :group 'codestral)

(defface codestral-applied '((t :inherit diff-refine-added))
  "Lines an accepted Codestral edit has just changed."
  :group 'codestral)

(defcustom codestral-applied-highlight-seconds 2
  "How long the lines a Codestral edit changed stay highlighted (0: not at all)."
  :type 'number)

;;; Edits the user declines, and what an edit changed

(defvar codestral--accepting 0 "codestral.accept requests sent and not answered yet.")

(defun codestral--edit-markers (wedit)
  "Markers (START . END) around each edit of the WorkspaceEdit WEDIT in a visited file."
  (let (pairs)
    (cl-flet ((add (uri edits)
                (when-let* ((path (eglot--uri-to-path uri))
                            (buffer (find-buffer-visiting path)))
                  (with-current-buffer buffer
                    (seq-doseq (edit edits)
                      (let ((region (eglot--range-region (plist-get edit :range))))
                        (push (cons (copy-marker (car region)) (copy-marker (cdr region) t))
                              pairs)))))))
      (seq-doseq (change (plist-get wedit :documentChanges))
        (when (plist-get change :edits)
          (add (plist-get (plist-get change :textDocument) :uri) (plist-get change :edits))))
      (unless (plist-get wedit :documentChanges)
        (cl-loop for (uri edits) on (plist-get wedit :changes) by #'cddr
                 do (add uri edits))))
    pairs))

(defun codestral--highlight (changed)
  "Highlight the whole lines of each (START . END) of CHANGED for a moment; free the markers."
  (pcase-dolist (`(,start . ,end) changed)
    (let ((buffer (marker-buffer start)))
      (when (and (buffer-live-p buffer) (> codestral-applied-highlight-seconds 0))
        (with-current-buffer buffer
          (let* ((beg (save-excursion (goto-char start) (line-beginning-position)))
                 (end (save-excursion
                        (goto-char end)
                        (if (and (bolp) (> (point) beg)) (point)
                          (min (point-max) (1+ (line-end-position))))))
                 (overlay (make-overlay beg end)))
            (overlay-put overlay 'face 'codestral-applied)
            (overlay-put overlay 'codestral-applied t)
            (run-at-time codestral-applied-highlight-seconds nil #'delete-overlay overlay)))))
    (set-marker start nil)
    (set-marker end nil)))

(cl-defmethod eglot-handle-request :around
  ((_server codestral-eglot-server) (_method (eql workspace/applyEdit)) &rest params)
  "Answer a declined or impossible edit with applied: false and the reason, as LSP says.
The edit of a proposal the user accepted is not confirmed a second time; the lines an
edit changed are highlighted for `codestral-applied-highlight-seconds'."
  (condition-case err
      (let* ((changed (ignore-errors (codestral--edit-markers (plist-get params :edit))))
             (answer (if (zerop codestral--accepting)
                         (cl-call-next-method)
                       ;; accepted in the review already: eglot does not ask again
                       (cl-progv (cl-remove-if-not #'boundp '(eglot-confirm-server-initiated-edits
                                                              eglot-confirm-server-edits))
                           '(nil nil)
                         (cl-call-next-method)))))
        (codestral--highlight changed)
        answer)
    (jsonrpc-error
     (let ((reason (if (stringp (cadr err)) (cadr err) (format "%s" (cdr err)))))
       (list :applied :json-false
             :failureReason (if (string-match-p "cancel" reason) "you declined it" reason))))
    (quit (list :applied :json-false :failureReason "you declined it"))))

;;; Progress in the mode line

(defvar codestral--progress (make-hash-table :test #'equal)
  "Running progress by token: a plist with :title, :message and :percentage.")

(defvar codestral--waiting 0 "Commands sent and not answered yet.")

(defun codestral--progress-text ()
  "What the mode line and echo area say about running actions, or nil."
  (let (parts)
    (maphash (lambda (_token p)
               (push (concat (plist-get p :title)
                             (when-let ((m (plist-get p :message))) (concat ": " m)))
                     parts))
             codestral--progress)
    (cond (parts (string-join (nreverse parts) " | "))
          ((> codestral--waiting 0) "Codestral: waiting…"))))

(defun codestral--mode-line ()
  "The mode-line element for running actions."
  (when-let ((text (codestral--progress-text)))
    (concat " [" (truncate-string-to-width text 60 nil nil "…") "] ")))

(add-to-list 'mode-line-misc-info '(:eval (codestral--mode-line)))

(defun codestral--echo (format-string &rest args)
  "Show FORMAT-STRING with ARGS in the echo area unless the user is typing in the minibuffer."
  (unless (active-minibuffer-window)
    (let ((message-log-max nil))
      (apply #'message format-string args))))

(cl-defmethod eglot-handle-request
  ((_server codestral-eglot-server) (_method (eql window/workDoneProgress/create)) &rest _)
  "Accept a progress token."
  nil)

(cl-defmethod eglot-handle-notification
  ((_server codestral-eglot-server) (_method (eql $/progress)) &key token value)
  "Show streaming progress (eglot 1.9 shows none)."
  (let ((kind (plist-get value :kind)))
    (pcase kind
      ("begin" (puthash token (list :title (plist-get value :title)
                                    :message (plist-get value :message))
                        codestral--progress))
      ("report" (when-let ((p (gethash token codestral--progress)))
                  (puthash token (plist-put p :message (plist-get value :message))
                           codestral--progress)))
      ("end" (remhash token codestral--progress)))
    (force-mode-line-update t)
    (unless (equal kind "end")
      (when-let ((text (codestral--progress-text)))
        (codestral--echo "%s  (M-x codestral-cancel to stop)" text)))))

;;; Results

(defun codestral--say (text)
  "Show TEXT from the server, prefixed once with \"Codestral: \"."
  (message "%s" (if (string-prefix-p "Codestral" text) text (concat "Codestral: " text))))

(defun codestral--show-markdown (markdown)
  "Show MARKDOWN in the *Codestral* buffer, rendered when markdown-mode is installed."
  (with-current-buffer (get-buffer-create "*Codestral*")
    (let ((inhibit-read-only t))
      (erase-buffer)
      (insert markdown)
      (goto-char (point-min))
      (require 'markdown-mode nil t)    ; installed but maybe not loaded yet
      (cond ((fboundp 'gfm-view-mode) (gfm-view-mode))
            ((fboundp 'markdown-view-mode) (markdown-view-mode))
            (t (text-mode) (view-mode 1)))
      (visual-line-mode 1)
      (local-set-key (kbd "q") #'quit-window))
    (display-buffer (current-buffer))))

(defun codestral--uri-buffer (uri)
  "A buffer visiting URI's file, or nil."
  (let ((path (and (stringp uri) (eglot--uri-to-path uri))))
    (and path (file-exists-p path) (find-file-noselect path))))

(defun codestral--show (result &optional server review-buffer)
  "Show RESULT of an action: the proposal to review, the explanation, the kept answer or
test file, and the status.  SERVER answered it; REVIEW-BUFFER showed the proposal it revises."
  (if (equal (plist-get result :status) "proposed")
      (codestral--review-open result server review-buffer)
    (when review-buffer (codestral--review-close review-buffer))
    (let ((markdown (plist-get result :markdown))
          (text (plist-get result :message)))
      (when markdown (codestral--show-markdown markdown))
      (when-let ((buffer (or (codestral--uri-buffer (plist-get result :answerUri))
                             (codestral--uri-buffer (plist-get result :testUri)))))
        (with-current-buffer buffer       ; written on disk by the server: show that
          (unless (buffer-modified-p) (revert-buffer t t t)))
        (display-buffer buffer))
      (when text (codestral--say text)))))

;;; Running actions, never blocking Emacs

(defun codestral--command-p (command)
  "Non-nil when COMMAND (a string or symbol) is one of codestral-lsp's actions."
  (let ((name (format "%s" command)))
    (and (string-prefix-p "codestral." name)
         (not (member name '("codestral.cancel" "codestral.usage" "codestral.status"
                              "codestral.clearReview" "codestral.models"))))))

(defun codestral--with-instruction (command arguments)
  "ARGUMENTS for COMMAND, asking for codestral.edit's instruction when it has none."
  (let ((argument (and (> (length arguments) 0) (aref arguments 0))))
    (if (and (equal command "codestral.edit") (listp argument)
             (not (plist-get argument :instruction)))
        (let ((instruction (string-trim (read-string "Codestral edit instruction: "))))
          (when (string-empty-p instruction)
            (user-error "Codestral: no instruction given; nothing was sent"))
          (vector (append argument (list :instruction instruction))))
      arguments)))

(defun codestral--send-changes (&optional buffer)
  "Send eglot's pending changes of BUFFER (default: the current one) now.
eglot sends them after 0.5 s idle, and only before its own deferred requests: sent now,
the server answers for the text the user sees."
  (when (buffer-live-p (or buffer (current-buffer)))
    (with-current-buffer (or buffer (current-buffer))
      (when (and (bound-and-true-p eglot--managed-mode)
                 (fboundp 'eglot--signal-textDocument/didChange))
        (eglot--signal-textDocument/didChange)))))

(defun codestral--mark (buffer beg end)
  "An overlay marking BEG..END of BUFFER while an action rewrites it, or nil."
  (when (and (buffer-live-p buffer) beg end)
    (with-current-buffer buffer
      (when (< beg end)
        (let ((overlay (make-overlay beg end)))
          (overlay-put overlay 'face 'codestral-streaming)
          (overlay-put overlay 'codestral-streaming t)
          overlay)))))

(defun codestral--mark-argument (argument)
  "An overlay on the code a command ARGUMENT names by :uri and :range, or nil."
  (when-let* (((listp argument))
              (uri (plist-get argument :uri))
              (range (plist-get argument :range))
              (path (and (stringp uri) (eglot--uri-to-path uri)))
              (buffer (find-buffer-visiting path)))
    (with-current-buffer buffer
      (pcase-let ((`(,beg . ,end) (eglot--range-region range)))
        (codestral--mark buffer beg end)))))

(defun codestral--execute (server command arguments &optional review-buffer overlay)
  "Run COMMAND with ARGUMENTS on SERVER asynchronously; show the result when it comes.
REVIEW-BUFFER is the review a retry revises; OVERLAY marks the code while the answer
streams (by default the range the argument names)."
  (let ((command (format "%s" command))
        (arguments (if (listp arguments) (vconcat arguments) arguments)))
    (setq arguments (codestral--with-instruction command arguments))
    (codestral--send-changes)
    (cl-incf codestral--waiting)
    (force-mode-line-update t)
    (let* ((overlay (or overlay (and (> (length arguments) 0)
                                     (ignore-errors (codestral--mark-argument (aref arguments 0))))))
           (done (lambda () (setq codestral--waiting (max 0 (1- codestral--waiting)))
                   (when overlay (delete-overlay overlay))
                   (force-mode-line-update t))))
      (jsonrpc-async-request
       server :workspace/executeCommand (list :command command :arguments arguments)
       :timeout nil
       :success-fn (lambda (result) (funcall done) (codestral--show result server review-buffer))
       :error-fn (lambda (error)
                   (funcall done)
                   (when review-buffer (codestral--review-close review-buffer))
                   (codestral--say (or (plist-get error :message) (format "%S" error))))))
    (codestral--echo "Codestral: %s sent  (M-x codestral-cancel to stop)"
                     (if review-buffer "retry" (string-remove-prefix "codestral." command)))
    nil))

(cl-defmethod eglot-execute-command :around (server command arguments)
  "Run codestral-lsp's actions asynchronously (eglot 1.9 waits for them, 10 s at most)."
  (if (codestral--command-p command)
      (codestral--execute server command arguments)
    (cl-call-next-method)))

(when (cl-generic-p 'eglot-execute)     ; eglot ≥ 1.16 runs code actions through this
  (cl-defmethod eglot-execute :around (server action)
    "Run codestral-lsp's actions asynchronously."
    (let ((command (if (stringp (plist-get action :command)) action (plist-get action :command))))
      (if (and (listp command) (codestral--command-p (plist-get command :command))
               (not (plist-get action :edit)))
          (codestral--execute server (plist-get command :command) (plist-get command :arguments))
        (cl-call-next-method)))))

;;; Reviewing a proposed edit before it lands

(defvar-local codestral--review nil
  "The proposal a review buffer shows: a plist with :server, :jobId (nil once answered),
:source (the buffer it changes), :beg and :end (markers around the code it replaces),
:message (the server's sentence) and :state (what is happening to it, or nil).")

(defvar codestral-review-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "C-c C-c") #'codestral-accept)
    (define-key map (kbd "C-c C-k") #'codestral-reject)
    (define-key map (kbd "C-c C-r") #'codestral-retry)
    (dolist (command '(diff-apply-hunk diff-hunk-kill diff-file-kill diff-split-hunk))
      (define-key map (vector 'remap command) #'codestral--review-whole))
    map)
  "Keys of a Codestral review buffer, over `diff-mode''s.")

(define-derived-mode codestral-review-mode diff-mode "Codestral-Review"
  "A Codestral proposal as a diff; nothing has changed in your code yet.
\\<codestral-review-mode-map>\\[codestral-accept] applies it, \\[codestral-reject] drops it, \
\\[codestral-retry] asks again with an instruction.  Killing the buffer rejects it.
\\{codestral-review-mode-map}"
  (setq buffer-read-only t)
  (setq header-line-format '(:eval (codestral--review-header)))
  (add-hook 'kill-buffer-hook #'codestral--review-drop nil t))

(defun codestral--review-whole ()
  "Say that a proposal is accepted or rejected whole."
  (interactive)
  (user-error "%s" (substitute-command-keys
                    "Codestral: a proposal is accepted or rejected whole: \
\\<codestral-review-mode-map>\\[codestral-accept] or \\[codestral-reject]")))

(defun codestral--review-header ()
  "The header line of a review buffer: the proposal and its keys, or what is happening."
  (let ((state (plist-get codestral--review :state)))
    (if state
        (concat " Codestral: " state)
      (concat " " (plist-get codestral--review :message)
              (substitute-command-keys
               "   \\<codestral-review-mode-map>\\[codestral-accept] accept  \
\\[codestral-reject] reject  \\[codestral-retry] retry")))))

(defun codestral--review-of (source &optional closed-too)
  "The review buffer of an open proposal for the buffer SOURCE, or nil.
With CLOSED-TOO, also one whose proposal expired or was answered."
  (cl-loop for buffer in (buffer-list)
           when (with-current-buffer buffer
                  (and (derived-mode-p 'codestral-review-mode)
                       (eq (plist-get codestral--review :source) source)
                       (or (plist-get codestral--review :jobId)
                           (and closed-too (plist-get codestral--review :closed)))))
           return buffer))

(defun codestral--review-buffer ()
  "The review buffer the commands act on: this one, or the one of this buffer's proposal."
  (cond ((derived-mode-p 'codestral-review-mode)
         (cond ((plist-get codestral--review :jobId) (current-buffer))
               ((plist-get codestral--review :closed)
                (user-error "Codestral: %s" (plist-get codestral--review :state)))
               ((plist-get codestral--review :state)
                (user-error "Codestral: %s; wait for it" (plist-get codestral--review :state)))
               (t (user-error "Codestral: this proposal was already answered"))))
        ((codestral--review-of (current-buffer)))
        (t (user-error "Codestral: no proposal is open for this buffer"))))

(defun codestral--review-reject-silently (server id)
  "Drop the proposal ID on SERVER, saying nothing whatever the answer."
  (when (and server id (jsonrpc-running-p server))
    (jsonrpc-async-request server :workspace/executeCommand
                           (list :command "codestral.reject" :arguments (vector (list :jobId id)))
                           :success-fn #'ignore :error-fn #'ignore)))

(defun codestral--review-drop ()
  "Reject the open proposal of the review buffer being killed."
  (codestral--review-reject-silently (plist-get codestral--review :server)
                                     (plist-get codestral--review :jobId)))

(cl-defmethod eglot-handle-notification :before
  ((server codestral-eglot-server) (_method (eql window/showMessage)) &key message &allow-other-keys)
  "When SERVER's MESSAGE says a proposal expired, its review buffer says so too."
  (when-let* ((relative (and (stringp message)
                             (string-match "proposal for \\(.+\\) expired" message)
                             (match-string 1 message))))
    (dolist (buffer (buffer-list))
      (with-current-buffer buffer
        (when (and (derived-mode-p 'codestral-review-mode)
                   (eq (plist-get codestral--review :server) server)
                   (plist-get codestral--review :jobId)
                   (equal (plist-get codestral--review :relative) relative))
          (setq codestral--review
                (append (list :jobId nil :closed t
                              :state (substitute-command-keys
                                      "this proposal expired unanswered; nothing was changed \
(\\<diff-mode-shared-map>\\[quit-window] closes this buffer)"))
                        codestral--review))
          (force-mode-line-update))))))

(defun codestral--review-open (result server review-buffer)
  "Show the proposed RESULT of SERVER in REVIEW-BUFFER, or in a new review buffer.
A proposal already open for the same code buffer is replaced (and rejected)."
  (let* ((source (codestral--uri-buffer (plist-get result :uri)))
         (old (and source (codestral--review-of source t)))
         (buffer (cond ((buffer-live-p review-buffer) review-buffer)
                       (old (with-current-buffer old
                              (unless (equal (plist-get codestral--review :jobId)
                                             (plist-get result :jobId))
                                (codestral--review-drop)))
                            old)
                       (t (generate-new-buffer "*codestral-review*"))))
         (range (and source (plist-get result :range)
                     (with-current-buffer source (eglot--range-region (plist-get result :range) t))))
         (relative (save-match-data
                     (and (string-match "^\\+\\+\\+ b/\\(.*\\)$" (or (plist-get result :diff) ""))
                          (match-string 1 (plist-get result :diff)))))
         (file (and source (buffer-file-name source))))
    (with-current-buffer buffer
      (let ((inhibit-read-only t))
        (setq codestral--review nil)   ; answered: killing the old mode's hooks rejects nothing
        (codestral-review-mode)
        (erase-buffer)
        (insert (or (plist-get result :diff) ""))
        (goto-char (point-min))
        (set-buffer-modified-p nil))
      (when (and file relative (string-suffix-p relative file))   ; so RET visits the code
        (setq default-directory (substring file 0 (- (length file) (length relative)))))
      (setq codestral--review (list :server server :jobId (plist-get result :jobId)
                                    :source source :beg (car range) :end (cdr range)
                                    :relative relative
                                    :message (or (plist-get result :message) "A proposal"))))
    (if (and (not (active-minibuffer-window))
             (memq (window-buffer (selected-window)) (list source buffer)))
        (pop-to-buffer buffer)
      (display-buffer buffer))
    (codestral--say (plist-get (buffer-local-value 'codestral--review buffer) :message))))

(defun codestral--review-close (buffer)
  "Close the review BUFFER: its windows and itself (its proposal was answered)."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (dolist (marker (list (plist-get codestral--review :beg) (plist-get codestral--review :end)))
        (when (markerp marker) (set-marker marker nil)))
      (setq codestral--review (plist-put codestral--review :jobId nil)))
    (dolist (window (get-buffer-window-list buffer nil t))
      (quit-window nil window))
    (kill-buffer buffer)))

(defun codestral--review-answer (buffer command state &optional extra)
  "Answer BUFFER's proposal with COMMAND (and EXTRA argument keys); show STATE meanwhile.
The result closes the review and is shown; an error (the proposal expired, say) is said
once and closes it too."
  (let* ((review (buffer-local-value 'codestral--review buffer))
         (server (plist-get review :server))
         (id (plist-get review :jobId))
         (accepting (equal command "codestral.accept")))
    (codestral--send-changes (plist-get review :source))
    (with-current-buffer buffer
      (setq codestral--review (plist-put (plist-put (copy-sequence review) :jobId nil) :state state))
      (force-mode-line-update))
    (when accepting (cl-incf codestral--accepting))
    (let ((done (lambda () (when accepting
                             (setq codestral--accepting (max 0 (1- codestral--accepting)))))))
      (jsonrpc-async-request
       server :workspace/executeCommand
       (list :command command :arguments (vector (append (list :jobId id) extra)))
       :timeout nil
       :success-fn (lambda (result) (funcall done) (codestral--show result server buffer))
       :error-fn (lambda (error)
                   (funcall done)
                   (codestral--review-close buffer)
                   (codestral--say (or (plist-get error :message) (format "%S" error))))))))

(defun codestral-accept ()
  "Apply the proposal of this review buffer (or of the current buffer's open review).
It lands only if the code it replaces is as it was; else the answer is kept and you are told."
  (interactive)
  (codestral--review-answer (codestral--review-buffer) "codestral.accept" "applying…"))

(defun codestral-reject ()
  "Drop the proposal of this review buffer (or of the current buffer's open review)."
  (interactive)
  (codestral--review-answer (codestral--review-buffer) "codestral.reject" "rejecting…"))

(defun codestral-retry (instruction)
  "Ask again for the proposal's code, revised as INSTRUCTION says."
  (interactive (progn (codestral--review-buffer)
                      (list (read-string "Codestral: ask again, with this change: "))))
  (when (string-empty-p (string-trim instruction))
    (user-error "Codestral: no instruction given; the proposal is still open"))
  (let* ((buffer (codestral--review-buffer))
         (review (buffer-local-value 'codestral--review buffer))
         (source (plist-get review :source))
         (overlay (codestral--mark source (plist-get review :beg) (plist-get review :end))))
    (with-current-buffer buffer
      (setq codestral--review
            (plist-put (plist-put (copy-sequence review) :jobId nil)
                       :state (format "asking again (%s)…  M-x codestral-cancel to stop" instruction)))
      (force-mode-line-update))
    (with-current-buffer (if (buffer-live-p source) source buffer)
      (codestral--execute (plist-get review :server) "codestral.accept"
                          (vector (list :jobId (plist-get review :jobId) :instruction instruction))
                          buffer overlay))))

(defun codestral--argument (beg end &rest extra)
  "The command argument for the region BEG..END, plus EXTRA keys."
  (append (list :uri (eglot--path-to-uri (buffer-file-name))
                :range (list :start (eglot--pos-to-lsp-position beg)
                             :end (eglot--pos-to-lsp-position end)))
          extra))

(defun codestral--run (action beg end &rest extra)
  "Run codestral.ACTION on BEG..END with EXTRA argument keys, without blocking Emacs."
  (codestral--execute (eglot--current-server-or-lose) (format "codestral.%s" action)
                      (vector (apply #'codestral--argument beg end extra))))

(defun codestral--region ()
  "The region's bounds, or an error asking for one."
  (if (use-region-p)
      (list (region-beginning) (region-end))
    (user-error "Codestral: select the code first")))

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
(codestral--define-region-command "review" "Review the code between BEG and END; findings become diagnostics.")

(defun codestral--ask (command on-result)
  "Run the argument-less server COMMAND asynchronously; ON-RESULT gets its result.
An error is said once, in the server's words."
  (jsonrpc-async-request
   (eglot--current-server-or-lose) :workspace/executeCommand
   (list :command command :arguments [])
   :success-fn on-result
   :error-fn (lambda (error) (codestral--say (format "%s" (plist-get error :message))))))

(defun codestral-models ()
  "Show the models the endpoint serves, with context length and fill-in-the-middle."
  (interactive)
  (codestral--ask "codestral.models"
                  (lambda (r)
                    (message "Codestral models: %s"
                             (mapconcat (lambda (m) (format "%s (%s%s)" (plist-get m :id)
                                                            (or (plist-get m :contextLength) "?")
                                                            (if (eq (plist-get m :fim) t) ", FIM" "")))
                                        (plist-get r :models) "; ")))))

(defun codestral-clear-review ()
  "Remove the diagnostics of Codestral's reviews."
  (interactive)
  (codestral--ask "codestral.clearReview" #'ignore))

(defun codestral-fix (beg end)
  "Fix the diagnostics (of every server) between BEG and END."
  (interactive (codestral--region))
  (let ((diagnostics (cl-loop for diag in (flymake-diagnostics beg end)
                              when (cdr (assoc 'eglot-lsp-diag (eglot--diag-data diag)))
                              collect it)))
    (codestral--run "fix" beg end :diagnostics (vconcat diagnostics))))

(defun codestral-edit (beg end instruction)
  "Change the code between BEG and END as INSTRUCTION says."
  (interactive (append (codestral--region) (list (read-string "Codestral edit instruction: "))))
  (when (string-empty-p (string-trim instruction))
    (user-error "Codestral: no instruction given; nothing was sent"))
  (codestral--run "edit" beg end :instruction instruction))

(defun codestral-cancel ()
  "Cancel the running Codestral actions."
  (interactive)
  (codestral--ask "codestral.cancel"
                  (lambda (result)
                    (message "Codestral: cancelled %s action(s)" (plist-get result :cancelled)))))

(defun codestral-usage ()
  "Show the tokens and estimated cost of this session."
  (interactive)
  (codestral--ask "codestral.usage"
                  (lambda (u)
                    (message "Codestral: %s requests, %s tokens, about $%.4f"
                             (plist-get u :requests) (plist-get u :totalTokens)
                             (or (plist-get u :estimatedCostUsd) 0)))))

(provide 'codestral)
;;; codestral.el ends here
