//! `UsherSocketService`: the GObject subclass and its private state.
//!
//! How accepting works, and where it departs from GLib's `gsocketservice.c`:
//!
//! * GLib keeps one `g_socket_listener_accept_async()` in flight and accepts one connection per
//!   main-loop turn. Usher learns the listening sockets from `GSocketListener`'s `event` vfunc
//!   (`LISTENED`) and watches each with its own `GSocketSource` on the context the service was
//!   created in. When one is readable, it takes the waiting clients off the kernel's backlog
//!   (`accept(2)` is cheap) and hands them out (`incoming`, where the handlers run, is not) in
//!   chunks, taking more in between, so that a burst does not overflow the backlog while the
//!   handlers run; at most the socket's listen backlog (or [`ACCEPT_BATCH`]) per dispatch, so
//!   that other sources still run. [`Pacing`](super::state::Pacing) adapts this to the load.
//! * Whether to take clients in is one predicate over the state ([`State::may_take_in`]), and
//!   whether to hand them out another ([`State::may_hand_out`]); every change of the state ends
//!   in [`SocketService::reconcile`], which attaches or destroys the sources to match. Stopping
//!   destroys the sources before any `accept()` can run, and clients already taken in wait for
//!   `start()`, so a waiting client is never lost (GLib can drop one: bug B6).
//! * `max-connections` and the threaded service's free threads bound how many clients are taken
//!   in; past that, clients wait in the kernel's backlog.
//! * Sources are always attached to the creating thread's context, whichever thread starts the
//!   service (GLib follows the calling thread: bug B7), and a service started before it has any
//!   socket starts accepting when one is added (GLib wedges: bug B5).
//! * A socket handed to `g_socket_listener_add_socket()` is not announced by `event`; when one
//!   arrives the service falls back to GLib's way, `g_socket_listener_accept_socket_async()`
//!   over all of the listener's sockets, one connection at a time.
//! * While it may accept, the service holds one reference to itself, as GLib's pending `GTask`
//!   does; a stopped service holds none, so dropping the last reference frees it and its ports.
//! * A failed accept is reported (`accept-error`, or a warning at most once a second) and the
//!   service keeps serving: transient errors are retried at once, resource exhaustion (EMFILE
//!   and the like) pauses accepting with a growing backoff instead of spinning (GLib: bug B1).
//!
//! One `Mutex<State>` guards everything. Signals, notifications and the release of the
//! self-reference happen after it is unlocked ([`Deferred`]).

use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use gio::prelude::*;
use glib::{subclass::Signal, subclass::prelude::*, translate::*};

use super::accept;
use super::state::{Deferred, Intake, State};
use crate::ffi;
use crate::subclass::prelude::*;

/// The most connections accepted from one socket in one main-loop dispatch is this, or the
/// socket's listen backlog when larger (as asyncio does): one dispatch can then empty a full
/// backlog before the kernel drops new clients, and other sources still run between dispatches.
/// How many are tried, and at which priority, adapts to the load ([`Pacing`](super::state::Pacing)).
pub(super) const ACCEPT_BATCH: usize = 64;

/// How many clients are handed out between two looks at the backlog.
const HAND_OUT_CHUNK: usize = 64;

/// Log domain of Usher's warnings.
pub(crate) const LOG_DOMAIN: &str = "Usher";

pub struct SocketService {
    /// The thread-default main context of the thread that created the service: every accept,
    /// `incoming` and `accept-error` runs here.
    pub(super) context: glib::MainContext,
    pub(super) state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for SocketService {
    const NAME: &'static str = "UsherSocketService";
    type Type = super::SocketService;
    type ParentType = crate::subclass::SocketListenerBase;
    type Instance = ffi::UsherSocketService;
    type Class = ffi::UsherSocketServiceClass;

    fn new() -> Self {
        Self {
            context: glib::MainContext::ref_thread_default(),
            state: Mutex::new(State::new()),
        }
    }

    fn class_init(klass: &mut Self::Class) {
        klass.incoming = Some(incoming_default);
        klass.accept_error = Some(accept_error_default);
    }
}

/// The signals, in the order of `signals()`.
pub(super) const SIGNAL_INCOMING: usize = 0;
pub(super) const SIGNAL_ACCEPT_ERROR: usize = 1;

/// Equivalent of `g_signal_accumulator_true_handled`: stop at the first handler returning TRUE.
pub(crate) fn true_handled(
    _hint: &glib::subclass::SignalInvocationHint,
    _accumulated: glib::Value,
    handler_return: &glib::Value,
) -> std::ops::ControlFlow<glib::Value, glib::Value> {
    if handler_return.get::<bool>().unwrap_or(false) {
        std::ops::ControlFlow::Break(handler_return.clone())
    } else {
        std::ops::ControlFlow::Continue(handler_return.clone())
    }
}

/// The C type of the `incoming` and `run` virtual methods, for instance structure `I`.
pub(crate) type ConnectionVfunc<I> = unsafe extern "C" fn(
    service: *mut I,
    connection: *mut gio::ffi::GSocketConnection,
    source_object: *mut glib::gobject_ffi::GObject,
) -> glib::ffi::gboolean;

/// A signal like GLib's `incoming` and `run`: `(GSocketConnection, GObject?) -> gboolean`,
/// RUN_LAST, ended by the first handler that returns TRUE. Its class closure calls the virtual
/// method that `vfunc` reads from the instance's class structure `C`, as GLib's
/// `g_signal_type_cclosure_new()` does, so that the overrides of every language run.
pub(crate) fn connection_signal<C: 'static, I: 'static>(
    name: &str,
    vfunc: fn(&C) -> Option<ConnectionVfunc<I>>,
) -> Signal {
    Signal::builder(name)
        .run_last()
        .param_types([
            gio::SocketConnection::static_type(),
            glib::Object::static_type(),
        ])
        .return_type::<bool>()
        .class_handler(move |args| {
            let (Ok(service), Ok(connection), Ok(source_object)) = (
                args[0].get::<glib::Object>(),
                args[1].get::<gio::SocketConnection>(),
                args[2].get::<Option<glib::Object>>(),
            ) else {
                return Some(false.to_value());
            };
            // SAFETY: GObject emits the signal on instances of the type it was registered for,
            // whose class structures begin with `C`.
            let handled = unsafe {
                let instance = service.as_ptr() as *mut glib::gobject_ffi::GTypeInstance;
                let class = &*((*instance).g_class as *const C);
                match vfunc(class) {
                    Some(vfunc) => from_glib(vfunc(
                        instance as *mut I,
                        connection.to_glib_none().0,
                        source_object.to_glib_none().0,
                    )),
                    None => false,
                }
            };
            Some(handled.to_value())
        })
        .accumulator(true_handled)
        .build()
}

static SIGNALS: LazyLock<Vec<Signal>> = LazyLock::new(|| {
    vec![
        connection_signal("incoming", |class: &ffi::UsherSocketServiceClass| {
            class.incoming
        }),
        Signal::builder("accept-error")
            .run_last()
            .param_types([glib::Error::static_type()])
            .class_handler(|args| {
                if let (Ok(service), Ok(error)) = (
                    args[0].get::<super::SocketService>(),
                    args[1].get::<glib::Error>(),
                ) && let Some(accept_error) = service.class().as_ref().accept_error
                {
                    unsafe { accept_error(service.as_ptr(), error.to_glib_none().0) }
                }
                None
            })
            .build(),
    ]
});

/// Default `incoming`: not handled, as `g_socket_service_real_incoming`.
unsafe extern "C" fn incoming_default(
    _service: *mut ffi::UsherSocketService,
    _connection: *mut gio::ffi::GSocketConnection,
    _source_object: *mut glib::gobject_ffi::GObject,
) -> glib::ffi::gboolean {
    glib::ffi::GFALSE
}

/// Default `accept_error`: a warning, at most once a second, when nobody listens.
unsafe extern "C" fn accept_error_default(
    service: *mut ffi::UsherSocketService,
    error: *const glib::ffi::GError,
) {
    unsafe {
        let service = super::SocketService::from_glib_borrow(service);
        let error = glib::Error::from_glib_borrow(error as *mut glib::ffi::GError);
        service.imp().warn_unhandled(&error);
    }
}

impl ObjectImpl for SocketService {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                // As GLib 2.74's `GSocketService:active`.
                glib::ParamSpecBoolean::builder("active")
                    .nick("Active")
                    .blurb("Whether the service is currently accepting connections")
                    .default_value(true)
                    .construct()
                    .build(),
                glib::ParamSpecUInt::builder("max-connections")
                    .nick("Maximum connections")
                    .blurb("The most live connections before the service stops accepting (0: no limit)")
                    .build(),
                glib::ParamSpecUInt::builder("n-connections")
                    .nick("Live connections")
                    .blurb("The connections handed out and not yet closed")
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder("n-accepted")
                    .nick("Accepted connections")
                    .blurb("The connections accepted since the service was created")
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder("n-accept-errors")
                    .nick("Accept errors")
                    .blurb("The failed accepts since the service was created")
                    .read_only()
                    .build(),
            ]
        });
        &PROPERTIES
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "active" => self.set_active(value.get().unwrap_or(true)),
            "max-connections" => self.set_max_connections(value.get().unwrap_or(0)),
            _ => unreachable!("GObject only sets the writable properties it knows"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let state = self.state();
        match pspec.name() {
            "active" => state.active.to_value(),
            "max-connections" => state.connections.max.to_value(),
            "n-connections" => state.connections.live_count().to_value(),
            "n-accepted" => state.n_accepted.to_value(),
            "n-accept-errors" => state.n_accept_errors.to_value(),
            _ => unreachable!("GObject only reads the properties it knows"),
        }
    }

    fn signals() -> &'static [Signal] {
        &SIGNALS
    }

    fn dispose(&self) {
        let deferred = {
            let mut state = self.state();
            state.dispose()
        };
        deferred.run(self);
    }
}

impl SocketListenerImpl for SocketService {
    fn changed(&self) {
        self.parent_changed();
        let deferred = {
            let mut state = self.state();
            state.adopt_announced();
            self.reconcile(&mut state)
        };
        deferred.run(self);
    }

    fn event(&self, event: gio::SocketListenerEvent, socket: &gio::Socket) {
        self.parent_event(event, socket);
        if event == gio::SocketListenerEvent::Listened {
            self.state().announce(socket);
        }
    }
}

impl SocketService {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; never turn a poisoned lock into a panic in C.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_active(&self) -> bool {
        self.state().active
    }

    /// Whether the listener was closed for good (a shutdown, `g_socket_listener_close()`).
    pub(crate) fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// Whether the listener is closed; if not, `waker` is woken when it is.
    pub(super) fn wake_when_closed(&self, waker: &std::task::Waker) -> bool {
        let mut state = self.state();
        if !state.closed
            && !state
                .closed_wakers
                .iter()
                .any(|known| known.will_wake(waker))
        {
            state.closed_wakers.push(waker.clone());
        }
        state.closed
    }

    /// `start()` and `stop()`: safe from any thread.
    pub(crate) fn set_active(&self, active: bool) {
        let deferred = {
            let mut state = self.state();
            if state.active == active {
                return;
            }
            state.active = active;
            self.reconcile(&mut state)
        };
        deferred.run(self);
        self.obj().notify("active");
    }

    pub(crate) fn set_max_connections(&self, max: u32) {
        let deferred = {
            let mut state = self.state();
            if state.connections.max == max {
                return;
            }
            state.connections.max = max;
            self.reconcile(&mut state)
        };
        deferred.run(self);
        self.obj().notify("max-connections");
    }

    /// Limits the connections the service takes in to `room` more (or lifts the limit), without
    /// touching `active`: the threaded service gives its free threads.
    pub(crate) fn set_room_for_jobs(&self, room: Option<u32>) {
        let deferred = {
            let mut state = self.state();
            state.room_for_jobs = room;
            self.reconcile(&mut state)
        };
        deferred.run(self);
    }

    /// Adds a socket Usher made itself (activation, `SO_REUSEPORT`), announcing it first so that
    /// it is served like the listener's own.
    pub(crate) fn add_own_socket(
        &self,
        socket: &gio::Socket,
        source_object: Option<&glib::Object>,
    ) -> Result<(), glib::Error> {
        self.state().announce(socket);
        let added = self.obj().add_socket(socket, source_object);
        if added.is_err() {
            self.state().forget_announced(socket);
        }
        added
    }

    /// Brings the sources, the fallback accept and the self-reference in line with the state.
    /// Called with the lock held, after every change; what must wait for the unlock is returned.
    pub(super) fn reconcile(&self, state: &mut State) -> Deferred {
        let mut deferred = Deferred::default();
        let may_take_in = state.may_take_in();

        let watched = may_take_in && !state.unannounced;
        for listening in &mut state.sockets {
            match (&listening.source, watched) {
                (None, true) => listening.source = Some(self.watch(&listening.socket)),
                (Some(_), false) => {
                    if let Some(source) = listening.source.take() {
                        source.destroy();
                    }
                }
                _ => {}
            }
        }
        // Clients taken in before a stop are handed out after the start, never dropped.
        if !state.may_hand_out() {
            state.stop_resuming();
        } else if state.has_waiting() {
            self.resume_soon(state, glib::Priority::DEFAULT);
        }

        let listener_accept_wanted = may_take_in && state.unannounced;
        if listener_accept_wanted && state.listener_accept.is_none() {
            state.listener_accept = Some(gio::Cancellable::new());
            deferred.accept_through_listener = true;
        } else if !listener_accept_wanted && let Some(cancellable) = state.listener_accept.take() {
            cancellable.cancel();
        }

        // Like GLib's pending accept, an active service with sockets keeps itself alive; in the
        // fallback the pending `GTask` holds that reference, as in GLib.
        let keep_alive = state.active
            && !state.closed
            && (!state.sockets.is_empty() || state.unannounced)
            && state.listener_accept.is_none();
        if keep_alive && state.keep_alive.is_none() {
            state.keep_alive = Some(self.obj().clone());
        } else if !keep_alive {
            deferred.release = state.keep_alive.take();
        }

        deferred
    }

    /// A source on the service's context that calls [`accept_ready`](Self::accept_ready).
    fn watch(&self, socket: &gio::Socket) -> glib::Source {
        let service = self.obj().downgrade();
        let source = SocketExtManual::create_source(
            socket,
            glib::IOCondition::IN,
            None::<&gio::Cancellable>,
            Some("[usher] accept"),
            glib::Priority::DEFAULT,
            move |socket, _condition| match service.upgrade() {
                Some(service) => {
                    service.imp().accept_ready(socket);
                    glib::ControlFlow::Continue
                }
                None => glib::ControlFlow::Break,
            },
        );
        source.attach(Some(&self.context));
        source
    }

    /// `socket` is readable, or has clients waiting. Takes clients off its backlog, which is
    /// cheap, and hands them out, which is not (the handlers run), [`HAND_OUT_CHUNK`] at a time,
    /// taking more in between so that the backlog does not overflow meanwhile; at most `most`
    /// per dispatch, coming back in the next main-loop iteration for the others.
    fn accept_ready(&self, socket: &gio::Socket) {
        let most = usize::try_from(socket.listen_backlog())
            .map_or(ACCEPT_BATCH, |backlog| backlog.max(ACCEPT_BATCH));
        let source_object = accept::source_object(socket);
        let mut found = Intake::default();
        let mut handed_out = 0;
        loop {
            // Under the lock, so that `stop()` from another thread is strictly before or after.
            // Taking in may be paused (no room, a backoff) while clients taken in earlier wait.
            let intake = self.state().take_in(socket).unwrap_or_default();
            if intake.closed {
                self.forget_closed(socket);
                return;
            }
            let mut stalled = false;
            for (error, failure) in intake.failures {
                let persistent = failure == accept::Failure::Persistent;
                stalled |= persistent;
                self.accept_failed(error, persistent);
            }
            found.taken += intake.taken;
            found.emptied = intake.emptied;

            let mut chunk = 0;
            while chunk < HAND_OUT_CHUNK && handed_out < most {
                let Some(client) = self.state().next_waiting(socket) else {
                    break;
                };
                chunk += 1;
                handed_out += 1;
                match gio::Socket::from_fd(client) {
                    Ok(client) => self.deliver(&client, source_object.as_ref()),
                    Err(error) => self.accept_failed(error, false),
                }
            }
            // Go on while clients are waiting, or keep coming (not under a light load, which
            // takes one per readiness: looking again would only find the backlog empty).
            let waiting = chunk == HAND_OUT_CHUNK;
            let coming = !intake.emptied && intake.taken > 1;
            if stalled || handed_out >= most || !(waiting || coming) {
                break;
            }
        }

        let deferred = {
            let mut state = self.state();
            let (priority, waiting) = state.pace(socket, &found, most);
            if waiting {
                self.resume_soon(&mut state, priority);
            }
            self.reconcile(&mut state)
        };
        deferred.run(self);
    }

    /// Calls [`accept_ready`](Self::accept_ready) again in the next iteration of the service's
    /// context for every socket with clients waiting, to hand them out.
    fn resume_soon(&self, state: &mut State, priority: glib::Priority) {
        if !state.may_hand_out() || state.resume.is_some() {
            return;
        }
        let service = super::WeakService::new(&self.obj());
        let resume = glib::idle_source_new(Some("[usher] hand out"), priority, move || {
            if let Some(service) = service.upgrade() {
                let imp = service.imp();
                let waiting = {
                    let mut state = imp.state();
                    state.resume = None;
                    state.sockets_with_waiting()
                };
                for socket in waiting {
                    imp.accept_ready(&socket);
                }
            }
            glib::ControlFlow::Break
        });
        resume.attach(Some(&self.context));
        state.resume = Some(resume);
    }

    /// Wraps `client` in a counted connection and emits `incoming` for it.
    fn deliver(&self, client: &gio::Socket, source_object: Option<&glib::Object>) {
        let service = super::WeakService::new(&self.obj());
        let (connection, deferred) = {
            let mut state = self.state();
            let id = state.connections.next_id();
            state.n_accepted += 1;
            let connection = crate::connection::new_tracked(client, move || {
                if let Some(service) = service.upgrade() {
                    service.imp().connection_closed(id);
                }
            });
            state.connections.insert(id, &connection);
            (connection, self.reconcile(&mut state))
        };
        deferred.run(self);
        let obj = self.obj();
        obj.notify("n-accepted");
        obj.notify("n-connections");
        let _handled: bool = obj.emit(
            SIGNALS[SIGNAL_INCOMING].signal_id(),
            &[&connection, &source_object],
        );
    }

    /// A connection this service handed out was closed or finalized, in any thread.
    pub(super) fn connection_closed(&self, id: u64) {
        let (counted, deferred) = {
            let mut state = self.state();
            let counted = state.connections.close(id);
            // A closed connection frees a descriptor: worth retrying an exhausted accept now.
            state.backoff.expire();
            (counted, self.reconcile(&mut state))
        };
        deferred.run(self);
        if counted {
            self.notify_on_context("n-connections");
            self.complete_shutdown_if_drained();
        }
    }

    /// Counts and reports a failed accept; on exhaustion, pauses accepting for a while.
    fn accept_failed(&self, error: glib::Error, exhausted: bool) {
        let deferred = {
            let mut state = self.state();
            state.n_accept_errors += 1;
            if exhausted {
                let delay = state.backoff.next_delay();
                state.backoff.timer = Some(self.backoff_timer(delay));
            }
            self.reconcile(&mut state)
        };
        deferred.run(self);
        let obj = self.obj();
        obj.notify("n-accept-errors");
        obj.emit::<()>(SIGNALS[SIGNAL_ACCEPT_ERROR].signal_id(), &[&error]);
    }

    fn backoff_timer(&self, delay: Duration) -> glib::Source {
        let service = super::WeakService::new(&self.obj());
        let timer = glib::timeout_source_new(
            delay,
            Some("[usher] accept backoff"),
            glib::Priority::DEFAULT,
            move || {
                if let Some(service) = service.upgrade() {
                    let imp = service.imp();
                    let deferred = {
                        let mut state = imp.state();
                        state.backoff.timer = None;
                        imp.reconcile(&mut state)
                    };
                    deferred.run(imp);
                }
                glib::ControlFlow::Break
            },
        );
        timer.attach(Some(&self.context));
        timer
    }

    /// A listening socket was closed under us (`g_socket_listener_close()`): stop watching it,
    /// and once none is left, stop the service instead of failing in a loop (GLib: bug B2).
    fn forget_closed(&self, socket: &gio::Socket) {
        let stopped = {
            let mut state = self.state();
            state.sockets.retain_mut(|listening| {
                if listening.socket != *socket {
                    return true;
                }
                if let Some(source) = listening.source.take() {
                    source.destroy();
                }
                false
            });
            state.sockets.is_empty() && !state.unannounced && state.active
        };
        if stopped {
            self.listener_closed();
        }
    }

    /// The listener was closed: nothing can be accepted any more. Stops the service.
    pub(super) fn listener_closed(&self) {
        self.end_accepting();
        self.set_active(false);
    }

    /// Lets go of the listening sockets and of the clients waiting on them, for good, and ends
    /// the incoming streams.
    pub(super) fn end_accepting(&self) {
        let deferred = {
            let mut state = self.state();
            let wake = state.close();
            Deferred {
                wake,
                ..self.reconcile(&mut state)
            }
        };
        deferred.run(self);
    }

    /// Accepts one connection through `g_socket_listener_accept_socket_async()`, for listeners
    /// with sockets the service was not told about. Runs on the service's context.
    pub(super) fn accept_through_listener(&self) {
        let Some(cancellable) = self.state().listener_accept.clone() else {
            return;
        };
        // The callback runs on the service's context but this may be another thread that
        // acquired it: its data must be `Send`, which rules out gio's thread-guarded wrapper.
        unsafe extern "C" fn accepted(
            listener: *mut glib::gobject_ffi::GObject,
            result: *mut gio::ffi::GAsyncResult,
            service: glib::ffi::gpointer,
        ) {
            unsafe {
                let service = Box::from_raw(service as *mut super::WeakService);
                let mut source_object = std::ptr::null_mut();
                let mut error = std::ptr::null_mut();
                let socket = gio::ffi::g_socket_listener_accept_socket_finish(
                    listener as *mut gio::ffi::GSocketListener,
                    result,
                    &mut source_object,
                    &mut error,
                );
                let result = if error.is_null() {
                    Ok((
                        from_glib_full(socket),
                        Option::<glib::Object>::from_glib_none(source_object),
                    ))
                } else {
                    Err(from_glib_full(error))
                };
                if let Some(service) = service.upgrade() {
                    service.imp().listener_accepted(result);
                }
            }
        }
        let service = Box::new(super::WeakService::new(&self.obj()));
        let accept = || unsafe {
            gio::ffi::g_socket_listener_accept_socket_async(
                self.obj()
                    .upcast_ref::<gio::SocketListener>()
                    .to_glib_none()
                    .0,
                cancellable.to_glib_none().0,
                Some(accepted),
                Box::into_raw(service) as glib::ffi::gpointer,
            )
        };
        if self.context.with_thread_default(accept).is_err() {
            glib::g_critical!(
                LOG_DOMAIN,
                "Cannot acquire the service's main context to accept"
            );
        }
    }

    fn listener_accepted(&self, result: Result<(gio::Socket, Option<glib::Object>), glib::Error>) {
        let deferred = {
            let mut state = self.state();
            state.listener_accept = None;
            if result.is_ok() {
                state.backoff.reset();
            }
            self.reconcile(&mut state)
        };
        deferred.run(self);
        match result {
            Ok((client, source_object)) => self.deliver(&client, source_object.as_ref()),
            Err(error) if error.matches(gio::IOErrorEnum::Cancelled) => {}
            Err(error) if error.matches(gio::IOErrorEnum::Closed) => self.listener_closed(),
            Err(error) => {
                let exhausted = error.matches(gio::IOErrorEnum::TooManyOpenFiles)
                    || error.matches(gio::IOErrorEnum::NoSpace);
                self.accept_failed(error, exhausted)
            }
        }
    }

    /// Emits `notify::name` on the service's context, now if this thread runs it.
    pub(super) fn notify_on_context(&self, name: &'static str) {
        if self.context.is_owner() {
            self.obj().notify(name);
        } else {
            let service = super::WeakService::new(&self.obj());
            self.context.invoke(move || {
                if let Some(service) = service.upgrade() {
                    service.notify(name);
                }
            });
        }
    }

    /// The warning of `accept_error_default`: at most one a second, with the failures it
    /// stands for, and none when a handler is connected.
    fn warn_unhandled(&self, error: &glib::Error) {
        let obj = self.obj();
        if glib::signal::signal_has_handler_pending(
            &*obj,
            SIGNALS[SIGNAL_ACCEPT_ERROR].signal_id(),
            None,
            false,
        ) {
            return;
        }
        let folded = {
            let mut state = self.state();
            state.warnings.admit(Instant::now())
        };
        match folded {
            Some(0) => glib::g_warning!(LOG_DOMAIN, "{}", error.message()),
            Some(more) => glib::g_warning!(
                LOG_DOMAIN,
                "{} ({more} more failed accepts since the last warning)",
                error.message()
            ),
            None => {}
        }
    }
}
