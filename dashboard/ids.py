"""Every component id of the dashboard, in one place."""

# app shell (outside the page container, so jobs survive page changes)
URL = "url"
WORKERS_KICK = "workers-kick"        # {"stamp", "wanted"}: start warm workers for queued runs
WORKERS_WAKE = "workers-wake"          # scaled out: the kick, passed on once the broker answers
WORKERS_RESULT = "workers-result"
BROKER_ALERT = "broker-alert"          # scaled out: says so when the broker cannot be reached at a kick

# launch page
FAMILY = "launch-family"
LAUNCH_FIELD = "launch-field"          # pattern: {"type": LAUNCH_FIELD, "name": <spec field>}
FAMILY_SECTION = "launch-section"      # pattern: {"type": FAMILY_SECTION, "family": <family>}
SWEEP_ON = "launch-sweep-on"
SWEEP_TEXT = "launch-sweep-text"
EXPERIMENT_NAME = "launch-experiment"
APPEND = "launch-append"               # add a sweep's runs to an existing experiment
FORM_SAVED = "launch-form-saved"       # the form's values (local storage): a reload keeps them
FORM_RESTORED = "launch-form-restored"
URL_FAMILY = "launch-url-family"       # ?family=... given in the URL (it wins over the saved form)
FORK_FROM = "launch-fork-from"         # ?fork=N&at=K: {"run", "at", "spec"}, the form forks run N (else None)
FORK_BANNER = "launch-fork-banner"
FORK_LEAVE = "launch-fork-leave"       # the fork banner's link back to a normal launch
FORK_FORCE = "launch-fork-force"       # fork a parent trained by another engine version anyway (nnlab fork --force)
START = "launch-start"
LAUNCH_MESSAGE = "launch-message"
WATCHED_RUNS = "launch-watched-runs"
ACTIVE_INTERVAL = "launch-active-interval"
ACTIVE_RUNS = "launch-active-runs"
FINISHED_RUNS = "launch-finished-runs"
SWEEPS_SUMMARY = "launch-sweeps"
SWEEP_TOGGLE = "sweep-toggle"          # pattern: {"type": SWEEP_TOGGLE, "name": <experiment>}
SWEEPS_OPEN = "launch-sweeps-open"     # the sweeps whose run list is open
CANCEL_REQUEST = "launch-cancel-request"
CANCEL_RUN = "cancel-run"              # pattern: {"type": CANCEL_RUN, "run": <id>}
LIVE_CURVES = "launch-live-curves"
LIVE_TITLE = "launch-live-title"

# runs page
RUNS_GRID = "runs-grid"
RUNS_INTERVAL = "runs-interval"
RUNS_FINGERPRINT = "runs-fingerprint"
RUNS_SEARCH = "runs-search"
RUNS_COUNT = "runs-count"
RUNS_ALL_SETTINGS = "runs-all-settings"
RUNS_COMPARE = "runs-compare"
RUNS_COMPARE_LINK = "runs-compare-link"
RUNS_DELETE = "runs-delete"
RUNS_DELETE_CONFIRM = "runs-delete-confirm"
RUNS_TAG_TEXT = "runs-tag-text"
RUNS_TAG = "runs-tag"
RUNS_CANCEL = "runs-cancel"
RUNS_MESSAGE = "runs-message"

# compare page
CMP_RUNS = "compare-runs"
CMP_METRIC = "compare-metric"
CMP_SPLITS = "compare-splits"
CMP_SMOOTH = "compare-smooth"
CMP_X = "compare-x"
CMP_LOG = "compare-log"
CMP_GROUP = "compare-group"
CMP_CURVES = "compare-curves"
CMP_PARCOORDS = "compare-parcoords"
CMP_SCATTER_PARAM = "compare-scatter-param"
CMP_SCATTER = "compare-scatter"
CMP_DIFF = "compare-diff"
CMP_FINAL = "compare-final-metric"
CMP_GRAPH_READY = "compare-graph-ready"  # true once the curves graph has drawn its placeholder
CMP_BUILT = "compare-built"            # the selection whose curves were built: starts the other figures

# run page
RUN_ID = "run-id"
RUN_INTERVAL = "run-interval"
RUN_HEADER = "run-header"
RUN_CURVES = "run-curves"
RUN_CONFIG = "run-config"
RUN_CONFIG_USED = "run-config-used"
RUN_CONFIG_ALL = "run-config-all"
RUN_CANCEL = "run-cancel"
RUN_RESUME = "run-resume"              # resume a stopped run from its latest checkpoint
RUN_RESUME_FORCE = "run-resume-force"  # resume a run of another engine version anyway (nnlab resume --force)
RUN_FORK_EPOCH = "run-fork-epoch"      # the epoch to fork at (a click on the curves sets it)
RUN_FORK = "run-fork"                  # a link to the launch form in fork mode at that epoch
RUN_LINEAGE = "run-lineage"            # where the run comes from (a fork of a fork ...)
RUN_LINEAGE_MESSAGE = "run-lineage-message"

# query page
QUERY_TEXT = "query-text"
QUERY_RUN = "query-run"
QUERY_EXAMPLE = "query-example"        # pattern: {"type": QUERY_EXAMPLE, "index": i}
QUERY_GRID = "query-grid"
QUERY_MESSAGE = "query-message"
QUERY_DOWNLOAD = "query-download"
QUERY_DOWNLOAD_BUTTON = "query-download-button"
QUERY_RESULT = "query-result"

# inside views: run page "Inside" tab and the compare page's side-by-side section
INSIDE_EPOCH = "inside-epoch"
INSIDE_EPOCH_LABEL = "inside-epoch-label"
INSIDE_PLAY = "inside-play"
INSIDE_TIMER = "inside-timer"
INSIDE_INDEX = "inside-index"
INSIDE_EXAMPLE = "inside-example"
INSIDE_VIEWS = "inside-views"
INSIDE_VIEW = "inside-view"            # pattern: {"type": INSIDE_VIEW, "view": <view key>}
CMP_INSIDE_VIEW = "compare-inside-view"
CMP_INSIDE_EPOCH = "compare-inside-epoch"
CMP_INSIDE_EXAMPLE = "compare-inside-example"
CMP_INSIDE_LAYER = "compare-inside-layer"
CMP_INSIDE_NOTE = "compare-inside-note"
CMP_INSIDE_FIGURE = "compare-inside-figure"

# lessons page (patterns: {"type": <id>, "lesson": <name>})
LESSON_RUN = "lesson-run"
LESSON_SEEDS = "lesson-seeds"
LESSON_PLAN = "lesson-plan"
LESSON_SEEN = "lesson-seen"
LESSON_PROGRESS = "lesson-progress"
LESSON_VERDICT = "lesson-verdict"
LESSON_FIGURE = "lesson-figure"
LESSON_COMPARE = "lesson-compare"
LESSONS_INTERVAL = "lessons-interval"
LESSONS_RUN_ALL = "lessons-run-all"    # every card's lesson at its card's seeds, queued together

# run page: ablation and events
ABLATE_KNOB = "ablate-knob"
ABLATE_VALUE = "ablate-value"
ABLATE_SEEDS = "ablate-seeds"
ABLATE_METRIC = "ablate-metric"
ABLATE_START = "ablate-start"
ABLATE_MESSAGE = "ablate-message"
ABLATE_PLAN = "ablate-plan"
ABLATE_PROGRESS = "ablate-progress"
ABLATE_VERDICT = "ablate-verdict"
ABLATE_FIGURE = "ablate-figure"
ABLATE_INTERVAL = "ablate-interval"
RUN_EVENTS = "run-events"
