---@meta moonlet
-- LuaCATS annotations of moonlet's public API, for lua-language-server and
-- other editors: completion, hover and type checks. Nothing here runs; the
-- rockspec installs it beside the module. tools/check-types.lua (run by
-- `make test`) checks that every public name is annotated here.
--
-- Calls that fail for reasons outside the program return nil, message,
-- code (README, "How a blocking call ends"): `nil, "ETIMEDOUT: timed out",
-- "ETIMEDOUT"` and so on. They are annotated `-> value?, string?, string?`.

---@alias moonlet.Awaitable moonlet.Future|moonlet.Task

---@class moonlet.Error
---@field kind "cancelled"|"timeout"
---@field message string
---@field traceback string

---@class moonlet.Stats
---@field tasks integer unfinished tasks
---@field failed integer tasks that ended with an error
---@field watchdog_incidents integer steps the watchdog reported
---@field iterations integer loop turns
---@field lag_p50 number seconds timers fired late: median of the latest firings
---@field lag_p99 number ... 99th percentile
---@field lag_max number ... worst
---@field bytes_in integer bytes read from streams and datagram sockets
---@field bytes_out integer bytes written to them
---@field jobs_queued integer thread-pool jobs waiting for a thread
---@field jobs_running integer thread-pool jobs running
---@field open {streams: integer, servers: integer, udp: integer, files: integer, processes: integer, signals: integer, http_clients: integer, http_transfers: integer}
---@field ready integer runnables in the run queue
---@field sleeping integer tasks in a timed wait
---@field requests integer operations in flight in libuv or on the thread pool
---@field spawned integer
---@field finished integer
---@field fast_switches integer
---@field native_switches integer
---@field slices_copied integer
---@field bytes_copied integer
---@field fresh_runners integer
---@field pooled_threads integer
---@field pooled_native integer
---@field pooled_native_bytes integer
---@field refs integer
---@field stack_size integer
---@field spare_read_buffers integer
---@field force_native boolean
---@field switch_backend string

---@class moonlet
---@field _VERSION string "moonlet x.y.z"
---@field Cancelled table metatable of Cancelled error objects
---@field Timeout table metatable of Timeout error objects
local moonlet = {}

-- Tasks and the loop -------------------------------------------------------

---Runs fn(...) in a new task, which starts on a later turn.
---@param fn fun(...): ...
---@param ... any
---@return moonlet.Task
function moonlet.spawn(fn, ...) end

---Runs fn(...) as the main task, drives the loop until it ends, cancels
---what it left running, and returns its results (or raises its error).
---@param fn fun(...): ...
---@param ... any
---@return ...
function moonlet.run(fn, ...) end

---Suspends the calling task (or drives the loop) for s seconds.
---@param s number
function moonlet.sleep(s) end

---Lets every other ready task run once.
function moonlet.yield() end

---The loop's clock, in seconds.
---@return number
function moonlet.now() end

---The running task, or nil outside tasks.
---@return moonlet.Task?
function moonlet.current() end

---The unfinished tasks.
---@return moonlet.Task[]
function moonlet.tasks() end

---Counters of the loop.
---@return moonlet.Stats
function moonlet.stats() end

---Sets the handler of errors nobody handled; returns the previous one.
---@param fn? fun(err: any, traceback: string?, obj: any, where: string)
---@return function?
function moonlet.on_error(fn) end

---A new pending future.
---@return moonlet.Future
function moonlet.future() end

---Calls fn(...) on a later turn.
---@param fn function
---@param ... any
---@return moonlet.Handle
function moonlet.call_soon(fn, ...) end

---Calls fn(...) once after s seconds.
---@param s number
---@param fn function
---@param ... any
---@return moonlet.Handle
function moonlet.call_later(s, fn, ...) end

---Calls fn(...) every s seconds until cancelled.
---@param s number
---@param fn function
---@param ... any
---@return moonlet.Handle
function moonlet.call_every(s, fn, ...) end

---Runs the C work function registered as name on the thread pool.
---@param name string
---@param ... nil|boolean|number|string
---@return any ... its results, or nil, "EWORK: ...", "EWORK"
function moonlet.work(name, ...) end

---Debug mode (also MOONLET_DEBUG=1): tasks spawned while it is on record
---where and by which task; reports and dumps show it. Returns whether on.
---@param on? boolean
---@return boolean
function moonlet.debug(on) end

---@class moonlet.TaskInfo
---@field id integer
---@field name string
---@field status "new"|"ready"|"running"|"suspended"
---@field since number seconds in that status
---@field switch "fast"|"native"|nil how it is suspended
---@field waiting {kind: string, timeout_in: number?, fd: integer?, peer: string?, task: integer?, capacity: integer?, buffered: integer?, url: string?, pid: integer?, path: string?, signal: string?}?
---@field spawned string? debug mode: "file:line in task 'name'"
---@field traceback string

---The blocked-loop watchdog: reports on stderr, once per incident, a task
---or callback that keeps the loop from turning for longer than seconds;
---false stops it; no argument returns the threshold (or false). On by
---default at 0.5 s (0.1 s in debug mode).
---@param seconds? number|false
---@return number|false
function moonlet.watchdog(seconds) end

---What every unfinished task is doing.
---@return moonlet.TaskInfo[]
function moonlet.tasks_info() end

---Writes the task dump to file (default io.stderr) and returns its text.
---@param file? file*|table
---@return string
function moonlet.dump(file) end

---Dumps on each delivery of sig (default "QUIT"); close() the watcher to stop.
---@param sig? string|integer
---@param file? file*|table
---@return table? watcher, string?, string?
function moonlet.dump_on(sig, file) end

-- Task-local context ---------------------------------------------------------

---@class moonlet.contextlib
moonlet.context = {}

---The value of key in the caller's context (task, callback or main chunk).
---@param key any
---@return any
function moonlet.context.get(key) end

---Sets key (nil removes it) in the caller's context from now on; tasks
---spawned and callbacks scheduled before keep their snapshot.
---@param key any
---@param value any
function moonlet.context.set(key, value) end

---Runs fn(...) with values added to the caller's context, restored after.
---@param values table
---@param fn function
---@param ... any
---@return ...
function moonlet.context.with(values, fn, ...) end

---A copy of the caller's whole context.
---@return table
function moonlet.context.all() end

---@class moonlet.PatchOptions
---@field socket? boolean LuaSocket: require "socket"/"socket.core" give moonlet.socket (default true)
---@field ssl? boolean LuaSec: ssl.wrap's connections wait cooperatively (default true)
---@field os? boolean os.execute and io.popen run through m.process (default false)

---gevent's patch_all: LuaSocket, LuaSec and (with os = true) os.execute
---and io.popen wait cooperatively from now on. Raises if "socket" was
---loaded before.
---@param opts? moonlet.PatchOptions
---@return table? socket the moonlet.socket module, unless socket = false
function moonlet.patch(opts) end

---Waits until the descriptor (one moonlet does not own: a LuaSocket
---socket, a driver's connection) is readable. It is made non-blocking.
---@param fd integer
---@param timeout? number
---@return true?, string?, string?
function moonlet.wait_readable(fd, timeout) end

---Waits until the descriptor is writable.
---@param fd integer
---@param timeout? number
---@return true?, string?, string?
function moonlet.wait_writable(fd, timeout) end

-- Channels -----------------------------------------------------------------

---A Go channel; capacity 0 (the default) is unbuffered.
---@param capacity? integer
---@return moonlet.Channel
function moonlet.channel(capacity) end

---Waits on several channel operations: {ch, "recv"} or {ch, "send", v}.
---@param cases table[]
---@param opts? {default: boolean?, timeout: number?}
---@return integer? index, any value, boolean|string? ok_or_code
function moonlet.select(cases, opts) end

---A channel that receives moonlet.now() once after s seconds.
---@param s number
---@return moonlet.Channel
function moonlet.after(s) end

---A channel that receives moonlet.now() every s seconds (one tick held).
---@param s number
---@return moonlet.Channel
function moonlet.ticker(s) end

-- Combinators --------------------------------------------------------------

---Awaits every task, future or function (spawned); results in order.
---@param list (moonlet.Awaitable|function)[]
---@param opts? {return_errors: boolean?}
---@return table results {n=, failed=}
function moonlet.gather(list, opts) end

---Waits until all (or the first, with return_when) are done or the timeout.
---@param list moonlet.Awaitable[]
---@param opts? {timeout: number?, return_when: "all"|"first"|"first_error"|nil}
---@return moonlet.Awaitable[] done, moonlet.Awaitable[] pending
function moonlet.wait(list, opts) end

---Awaits aw for at most s seconds; raises Timeout and cancels it after.
---@param aw moonlet.Awaitable
---@param s number
---@return ...
function moonlet.wait_for(aw, s) end

---Runs fn(...) and raises Timeout if it takes more than s seconds.
---@param s number
---@param fn function
---@param ... any
---@return ...
function moonlet.timeout(s, fn, ...) end

---Awaits aw without passing the caller's cancellation on to it.
---@param aw moonlet.Awaitable
---@return ...
function moonlet.shield(aw) end

---Iterates the awaitables in the order they finish.
---@param list moonlet.Awaitable[]
---@param opts? {timeout: number?}
---@return fun(): moonlet.Awaitable
function moonlet.as_completed(list, opts) end

---Runs fn(scope, ...); returns once every task spawned in the scope ended.
---@param fn fun(scope: moonlet.Scope, ...): ...
---@param ... any
---@return ...
function moonlet.scope(fn, ...) end

-- Synchronisation and queues -----------------------------------------------

---@return moonlet.Lock
function moonlet.lock() end

---@param n? integer permits (1)
---@return moonlet.Semaphore
function moonlet.semaphore(n) end

---@return moonlet.Event
function moonlet.event() end

---@param lock? moonlet.Lock
---@return moonlet.Condition
function moonlet.condition(lock) end

---@return moonlet.Waitgroup
function moonlet.waitgroup() end

---A FIFO queue; maxsize 0 or nil: unbounded.
---@param maxsize? integer
---@return moonlet.Queue
function moonlet.queue(maxsize) end

---@param maxsize? integer
---@return moonlet.Queue
function moonlet.lifo_queue(maxsize) end

---Smallest first by less (default <).
---@param maxsize? integer
---@param less? fun(a: any, b: any): boolean
---@return moonlet.Queue
function moonlet.priority_queue(maxsize, less) end

-- Futures and tasks --------------------------------------------------------

---@class moonlet.Future
local Future = {}

---Waits until done; returns the results or raises the error.
---@return ...
function Future:await() end

---The results of a done future (raises its error; raises if pending).
---@return ...
function Future:result() end

---The error of a done future, or nil.
---@return any
function Future:error() end

---@return boolean
function Future:done() end

---@return boolean
function Future:cancelled() end

---@return "pending"|"done"|"failed"|"cancelled"
function Future:status() end

---Cancels a pending future; false if it was done.
---@param msg? string
---@return boolean
function Future:cancel(msg) end

---@param ... any
function Future:set_result(...) end

---@param err any
function Future:set_error(err) end

---Calls fn(future) once done (on a later turn).
---@param fn fun(f: moonlet.Future)
---@return moonlet.Handle
function Future:on_done(fn) end

---@class moonlet.Task: moonlet.Future
local Task = {}

---Requests cancellation: the task gets Cancelled where it blocks.
---@param msg? string
---@return boolean requested false if it had finished
function Task:cancel(msg) end

---@return string
function Task:name() end

---@param name string
---@return moonlet.Task
function Task:set_name(name) end

---The traceback of the error it failed with, or where it is suspended.
---@return string?
function Task:traceback() end

---Awaits the task; returns its results or raises its error.
---@return ...
function Task:await() end

---@return ...
function Task:result() end

---@return any
function Task:error() end

---@return boolean
function Task:done() end

---@return boolean
function Task:cancelled() end

---@return "pending"|"done"|"failed"|"cancelled"
function Task:status() end

---Raises: a task's outcome is its function's.
---@param ... any
function Task:set_result(...) end

---Raises: a task's outcome is its function's.
---@param err any
function Task:set_error(err) end

---@param fn fun(t: moonlet.Task)
---@return moonlet.Handle
function Task:on_done(fn) end

---@class moonlet.Handle
local Handle = {}

---Prevents later calls; true if one was pending.
---@return boolean
function Handle:cancel() end

---@return boolean
function Handle:cancelled() end

---@class moonlet.Scope
local Scope = {}

---Spawns a task that the scope awaits.
---@param fn function
---@param ... any
---@return moonlet.Task
function Scope:spawn(fn, ...) end

---Cancels every task of the scope.
---@param msg? string
function Scope:cancel(msg) end

-- Channels -----------------------------------------------------------------

---@class moonlet.Channel
local Channel = {}

---Blocks until a receiver takes v (or there is room); raises if closed.
---@param v any
function Channel:send(v) end

---The next value and true; nil, false once closed and drained.
---@return any value, boolean ok
function Channel:recv() end

---@param v any
---@return boolean sent
function Channel:try_send(v) end

---@return any value, boolean|nil ok nil: nothing now; false: closed
function Channel:try_recv() end

---Closes: receivers drain what is buffered, then get nil, false; send raises.
function Channel:close() end

---@return boolean
function Channel:closed() end

---@return integer
function Channel:cap() end

---Iterates values until closed and drained (nil ends a for loop).
---@return fun(): any
function Channel:iter() end

---Stops an after() or ticker() channel.
function Channel:stop() end

-- Synchronisation ----------------------------------------------------------

---@class moonlet.Lock
local Lock = {}

---@param timeout? number
---@return moonlet.Lock?, string?, string?
function Lock:acquire(timeout) end

---Hands the lock to the longest waiter (raises if unlocked).
function Lock:release() end

---@return boolean
function Lock:locked() end

---@class moonlet.Semaphore
local Semaphore = {}

---@param timeout? number
---@return moonlet.Semaphore?, string?, string?
function Semaphore:acquire(timeout) end

---Gives a permit back (to the longest waiter).
function Semaphore:release() end

---@return integer
function Semaphore:value() end

---@class moonlet.Event
local Event = {}

---Sets the flag and wakes every waiter.
function Event:set() end

---Clears the flag.
function Event:clear() end

---@return boolean
function Event:is_set() end

---@param timeout? number
---@return true?, string?, string?
function Event:wait(timeout) end

---@class moonlet.Condition
local Condition = {}

---@param timeout? number
---@return moonlet.Lock?, string?, string?
function Condition:acquire(timeout) end

---Releases the lock.
function Condition:release() end

---@return boolean
function Condition:locked() end

---Releases the lock, waits for a notify, takes the lock again.
---@param timeout? number
---@return true?, string?, string?
function Condition:wait(timeout) end

---@param n? integer
function Condition:notify(n) end

---Wakes every waiter.
function Condition:notify_all() end

---@class moonlet.Waitgroup
local Waitgroup = {}

---@param n? integer
function Waitgroup:add(n) end

---add(-1).
function Waitgroup:done() end

---@param timeout? number
---@return true?, string?, string?
function Waitgroup:wait(timeout) end

---@return integer
function Waitgroup:count() end

---@class moonlet.Queue
local Queue = {}

---@param v any
---@param timeout? number
---@return true?, string?, string?
function Queue:put(v, timeout) end

---@param timeout? number
---@return any, string?, string? item, or nil, message, "ETIMEDOUT"|"ECLOSED"
function Queue:get(timeout) end

---@param v any
---@return boolean
function Queue:try_put(v) end

---@return any, boolean|nil
function Queue:try_get() end

---Marks one item got earlier as processed (for join).
function Queue:task_done() end

---@param timeout? number
---@return true?, string?, string?
function Queue:join(timeout) end

---@return integer
function Queue:size() end

---@return boolean
function Queue:empty() end

---@return boolean
function Queue:full() end

---Closes: put raises; getters drain, then get nil, msg, "ECLOSED".
function Queue:close() end

---@return boolean
function Queue:closed() end

-- Files ----------------------------------------------------------------------

---@class moonlet.fslib
moonlet.fs = {}

---@param path string
---@return string?, string?, string?
function moonlet.fs.read_file(path) end

---@param path string
---@param data string
---@return true?, string?, string?
function moonlet.fs.write_file(path, data) end

---@param path string
---@param data string
---@return true?, string?, string?
function moonlet.fs.append_file(path, data) end

---@param path string
---@return boolean
function moonlet.fs.exists(path) end

---@param path string
---@return table?, string?, string? {size=, type=, mode=, mtime=, ...}
function moonlet.fs.stat(path) end

---@param path string
---@return {name: string, type: string}[]?, string?, string?
function moonlet.fs.list(path) end

---@param path string
---@param opts? {parents: boolean?}
---@return true?, string?, string?
function moonlet.fs.mkdir(path, opts) end

---@param path string
---@return true?, string?, string?
function moonlet.fs.remove(path) end

---@param from string
---@param to string
---@return true?, string?, string?
function moonlet.fs.rename(from, to) end

---@return string?, string?, string?
function moonlet.fs.tmpname() end

---@param path string
---@param mode? string "r", "w", "a", with "+" and "b"
---@return moonlet.File?, string?, string?
function moonlet.fs.open(path, mode) end

---@class moonlet.File
local File = {}

---@param fmt? string|integer "l", "L", "n", "a" or a byte count
---@return string|number|nil, string?, string?
function File:read(fmt) end

---@param fmt? string|integer
---@return fun(): string?
function File:lines(fmt) end

---@param ... string|number
---@return moonlet.File?, string?, string?
function File:write(...) end

---@param whence? "set"|"cur"|"end"
---@param offset? integer
---@return integer?, string?, string?
function File:seek(whence, offset) end

---@return moonlet.File
function File:flush() end

---@return true
function File:close() end

-- Streams ----------------------------------------------------------------------

---@class moonlet.tcplib
moonlet.tcp = {}

---@param host string a name or an address
---@param port integer|string
---@param opts? {timeout: number?, nodelay: boolean?, keepalive: boolean|integer|nil, bind: string|table|nil}
---@return moonlet.Stream?, string?, string?
function moonlet.tcp.connect(host, port, opts) end

---Listens; with a handler, runs handler(stream) in a task per connection.
---@param host string
---@param port integer|string
---@param handler? fun(s: moonlet.Stream)
---@param opts? {backlog: integer?, max_connections: integer?}
---@return moonlet.Server?, string?, string?
function moonlet.tcp.listen(host, port, handler, opts) end

---@class moonlet.pipelib
moonlet.pipe = {}

---@param path string
---@param opts? {timeout: number?}
---@return moonlet.Stream?, string?, string?
function moonlet.pipe.connect(path, opts) end

---@param path string
---@param handler? fun(s: moonlet.Stream)
---@param opts? {backlog: integer?, max_connections: integer?}
---@return moonlet.Server?, string?, string?
function moonlet.pipe.listen(path, handler, opts) end

---@class moonlet.Stream
local Stream = {}

---@param fmt? string|integer "l" (default), "L", "a" or a byte count
---@return string?, string?, string?
function Stream:read(fmt) end

---@param fmt? string|integer
---@return fun(): string?
function Stream:lines(fmt) end

---@param ... string|number
---@return moonlet.Stream?, string?, string?
function Stream:write(...) end

---@return moonlet.Stream?, string?, string?
function Stream:shutdown() end

---@return string?, integer?
function Stream:peer() end

---@return string?, integer?
function Stream:local_address() end

---@param s? number seconds for each later operation (nil: none)
---@return moonlet.Stream
function Stream:set_timeout(s) end

---@param n integer
---@return moonlet.Stream
function Stream:set_max_line(n) end

---@return true
function Stream:close() end

---@class moonlet.Server
local Server = {}

---@return moonlet.Stream?, string?, string?
function Server:accept() end

---@return string, integer?
function Server:address() end

---@param s? number
---@return moonlet.Server
function Server:set_timeout(s) end

---Blocks until the server is closed (servers with a handler).
function Server:serve_forever() end

---@return integer
function Server:connections() end

---Stops accepting; running handlers go on.
function Server:close() end

-- Datagrams and names ---------------------------------------------------------

---@class moonlet.udplib
moonlet.udp = {}

---@param host string
---@param port integer|string
---@param opts? table
---@return moonlet.UDP?, string?, string?
function moonlet.udp.bind(host, port, opts) end

---@class moonlet.UDP
local UDP = {}

---@return string?, string?, integer|string|nil data, host, port
function UDP:recv_from() end

---@param data string
---@param host string a name or an address
---@param port integer
---@return true?, string?, string?
function UDP:send_to(data, host, port) end

---@param on boolean
---@return moonlet.UDP?, string?, string?
function UDP:set_broadcast(on) end

---@param on boolean
---@return moonlet.UDP?, string?, string?
function UDP:set_multicast_loop(on) end

---@param ttl integer
---@return moonlet.UDP?, string?, string?
function UDP:set_multicast_ttl(ttl) end

---@param group string
---@param iface? string
---@return moonlet.UDP?, string?, string?
function UDP:join_group(group, iface) end

---@param group string
---@param iface? string
---@return moonlet.UDP?, string?, string?
function UDP:leave_group(group, iface) end

---@return string?, integer?
function UDP:local_address() end

---@param s? number
---@return moonlet.UDP
function UDP:set_timeout(s) end

---@return true
function UDP:close() end

---@class moonlet.dnslib
moonlet.dns = {}

---@param host string
---@param opts? {family: 4|6|"inet"|"inet6"|nil, all: boolean?, timeout: number?}
---@return string|table|nil, integer|string|nil, string?
function moonlet.dns.lookup(host, opts) end

---@param ip string
---@param opts? {timeout: number?}
---@return string?, string?, string?
function moonlet.dns.reverse(ip, opts) end

-- Processes and signals -------------------------------------------------------

---@class moonlet.processlib
moonlet.process = {}

---@param spec table argv with cwd=, env=, stdin=, stdout=, stderr=
---@return moonlet.Process?, string?, string?
function moonlet.process.spawn(spec) end

---@param cmd string|string[]
---@param opts? {input: string?, cwd: string?, env: table?, timeout: number?}
---@return string?, string?, integer|string|nil, string? stdout, stderr, code, signal
function moonlet.process.run(cmd, opts) end

---@return table<string, string>
function moonlet.process.environ() end

---@class moonlet.Process
---@field pid integer
---@field stdin moonlet.Stream?
---@field stdout moonlet.Stream?
---@field stderr moonlet.Stream?
local Process = {}

---@param timeout? number
---@return integer?, string?, string? exit code (128+n and the name when killed by a signal)
function Process:wait(timeout) end

---@param sig? string|integer
---@return true?, string?, string?
function Process:kill(sig) end

---Closes the pipes and stops watching the process (it is not killed).
function Process:close() end

---@class moonlet.signallib
moonlet.signal = {}

---@param sig string|integer
---@param timeout? number
---@return string?, string?, string?
function moonlet.signal.wait(sig, timeout) end

---@param ... string|integer
---@return moonlet.Channel
function moonlet.signal.channel(...) end

-- HTTP -----------------------------------------------------------------------------

---@class moonlet.httplib
---@field MAX_BODY integer default max_body of clients (64 MiB)
---@field reasons table<integer, string>
---@field Headers fun(t?: table): moonlet.http.Headers a new header list
moonlet.http = {}

---@param r table {method=, url=, headers=, body=, query=, form=, json=, timeout=, ...}
---@return moonlet.http.Response?, string?, string?
function moonlet.http.request(r) end

---@param url string
---@param opts? table
---@return moonlet.http.Response?, string?, string?
function moonlet.http.get(url, opts) end

---@param url string
---@param opts? table
---@return moonlet.http.Response?, string?, string?
function moonlet.http.head(url, opts) end

---@param url string
---@param body? string
---@param opts? table
---@return moonlet.http.Response?, string?, string?
function moonlet.http.post(url, body, opts) end

---Closes the default client of the module-level functions.
function moonlet.http.close() end

---@param opts? table
---@return moonlet.http.Client
function moonlet.http.client(opts) end

---@return string
function moonlet.http.curl_version() end

---@param s string
---@return string
function moonlet.http.escape(s) end

---@param s string
---@param form? boolean "+" means space
---@return string
function moonlet.http.unescape(s, form) end

---@param t table
---@return string
function moonlet.http.encode_query(t) end

---@param q string
---@return table
function moonlet.http.parse_query(q) end

---Parses url, with relative resolved against it (curl's URL parser).
---@param url string
---@param relative? string
---@return {url: string, scheme: string, host: string, port: integer, path: string, query: string?}?, string?
function moonlet.http.url(url, relative) end

---Serves HTTP/1.x: handler(req, res) in a task per request.
---@param host string
---@param port integer|string
---@param handler fun(req: moonlet.http.Request, res: moonlet.http.ServerResponse)
---@param opts? table
---@return moonlet.Server?, string?, string?
function moonlet.http.listen(host, port, handler, opts) end

---@class moonlet.http.Client
local Client = {}

---@param r table
---@return moonlet.http.Response?, string?, string?
function Client:request(r) end

---@param url string
---@param opts? table
---@return moonlet.http.Response?, string?, string?
function Client:get(url, opts) end

---@param url string
---@param opts? table
---@return moonlet.http.Response?, string?, string?
function Client:head(url, opts) end

---@param url string
---@param body? string
---@param opts? table
---@return moonlet.http.Response?, string?, string?
function Client:post(url, body, opts) end

---Closes the client: its requests fail with ECANCELED.
function Client:close() end

---@class moonlet.http.Response
---@field status integer
---@field reason string
---@field headers moonlet.http.Headers
---@field body string? nil for a streamed response
---@field url string
---@field ok boolean status 200-299
---@field ip string?
---@field http_version string
---@field redirects integer
---@field elapsed number
local Response = {}

---@param n? integer
---@return string?, string?, string?
function Response:read(n) end

---@return fun(): string?
function Response:lines() end

---@return any, string?
function Response:json() end

---@param path string
---@return integer?, string?, string?
function Response:save(path) end

---Aborts the transfer (streamed responses).
function Response:close() end

---A header list: lookups in any case (`h["content-type"]`), fields in
---arrival order; `#h` is the number of fields, `pairs(h)` walks them.
---@class moonlet.http.Headers
---@operator len: integer
---@field [string] string?
local Headers = {}

---@param name string
---@return string?
function Headers:get(name) end

---@param name string
---@return string[]
function Headers:get_all(name) end

---@param name string
---@param value string
function Headers:set(name, value) end

---@param name string
---@param value string
function Headers:add(name, value) end

---@param name string
function Headers:remove(name) end

---@return fun(): string?, string?
function Headers:each() end

---@class moonlet.http.Request
---@field method string
---@field target string
---@field path string
---@field query table
---@field version string
---@field headers moonlet.http.Headers
---@field trailers moonlet.http.Headers?
---@field remote string
---@field keep_alive boolean
---@field upgrade boolean
local Request = {}

---@return string?, string?, string?
function Request:read() end

---@return string?, string?, string?
function Request:body() end

---@return fun(): string?
function Request:lines() end

---@return moonlet.Stream, string
function Request:hijack() end

---@class moonlet.http.ServerResponse
---@field status integer
---@field headers moonlet.http.Headers
---@field reason string? a reason phrase instead of the status's standard one
---@field head_sent boolean the status line and headers have gone out
---@field finished boolean finish() was called (or the server answered)
local ServerResponse = {}

---@param status? integer
---@param headers? table
function ServerResponse:set(status, headers) end

---@param data string
function ServerResponse:write(data) end

---@param data? string
function ServerResponse:finish(data) end

-- JSON -----------------------------------------------------------------------------

---@class moonlet.jsonlib
---@field null table stands for JSON null both ways
moonlet.json = {}

---@param v any
---@return string
function moonlet.json.encode(v) end

---@param s string
---@return any, string?
function moonlet.json.decode(s) end

return moonlet
