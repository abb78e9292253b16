//! The signal plumbing both services share: GLib's true-handled accumulator, and signals shaped
//! like `incoming` and `run` whose class handler is a virtual method of the class structure.

use std::ops::ControlFlow;

use glib::prelude::*;
use glib::subclass::{Signal, SignalInvocationHint, prelude::*};

use crate::ffi::{ConnectionVfunc, call_connection_vfunc, class_of};

/// `g_signal_accumulator_true_handled`: the emission stops at the first handler returning TRUE.
pub(crate) fn true_handled(
    _hint: &SignalInvocationHint,
    _accumulated: glib::Value,
    handler_return: &glib::Value,
) -> ControlFlow<glib::Value, glib::Value> {
    if handler_return.get::<bool>().unwrap_or(false) {
        ControlFlow::Break(handler_return.clone())
    } else {
        ControlFlow::Continue(handler_return.clone())
    }
}

/// A signal like GLib's `incoming` and `run`: `(GSocketConnection, GObject?) -> gboolean`,
/// RUN_LAST, ended by the first handler that returns TRUE. Its class closure calls the virtual
/// method that `vfunc` reads from the class structure of the instance, as GLib's
/// `g_signal_type_cclosure_new()` does, so that the overrides of every language run.
pub(crate) fn connection_signal<T: ObjectSubclass>(
    name: &str,
    vfunc: fn(&T::Class) -> Option<ConnectionVfunc<T::Instance>>,
) -> Signal
where
    for<'a> &'a T::Type: glib::value::FromValue<'a>,
{
    Signal::builder(name)
        .run_last()
        .param_types([
            gio::SocketConnection::static_type(),
            glib::Object::static_type(),
        ])
        .return_type::<bool>()
        .class_handler(move |args| {
            let handled = connection_args::<T::Type>(args).is_some_and(
                |(instance, connection, source_object)| {
                    call_connection_vfunc::<T>(
                        vfunc(class_of::<T>(instance)),
                        instance,
                        connection,
                        source_object,
                    )
                },
            );
            Some(handled.to_value())
        })
        .accumulator(true_handled)
        .build()
}

/// The closure of a handler of `incoming` or `run` (a signal of `B`) connected from Rust, which
/// calls `f` with the signal's arguments, the instance as an `S`. Borrowed from the emission: the
/// handler takes no reference of its own, as a C handler would not (GLib's tests count them).
pub(crate) fn connection_handler<B, S>(
    f: impl Fn(&S, &gio::SocketConnection, Option<&glib::Object>) -> bool,
) -> impl Fn(&[glib::Value]) -> Option<glib::Value>
where
    B: IsA<B>,
    S: IsA<B>,
    for<'a> &'a B: glib::value::FromValue<'a>,
{
    move |args| {
        let handled = connection_args::<B>(args).is_some_and(|(instance, connection, source)| {
            instance
                .downcast_ref::<S>()
                .is_some_and(|instance| f(instance, connection, source))
        });
        Some(handled.to_value())
    }
}

/// The arguments of a signal shaped like `incoming`, emitted on a `B`.
fn connection_args<B>(
    args: &[glib::Value],
) -> Option<(&B, &gio::SocketConnection, Option<&glib::Object>)>
where
    for<'a> &'a B: glib::value::FromValue<'a>,
{
    Some((
        args[0].get::<&B>().ok()?,
        args[1].get().ok()?,
        args[2].get().ok()?,
    ))
}

/// The arguments of `accept-error`, emitted on a `B`.
pub(crate) fn accept_error_args<B>(args: &[glib::Value]) -> Option<(&B, &glib::Error)>
where
    for<'a> &'a B: glib::value::FromValue<'a>,
{
    Some((args[0].get::<&B>().ok()?, args[1].get().ok()?))
}

/// The arguments of `accept-certificate`, emitted on a `B`.
pub(crate) fn accept_certificate_args<B>(
    args: &[glib::Value],
) -> Option<(
    &B,
    &gio::TlsConnection,
    &gio::TlsCertificate,
    gio::TlsCertificateFlags,
)>
where
    for<'a> &'a B: glib::value::FromValue<'a>,
{
    Some((
        args[0].get::<&B>().ok()?,
        args[1].get().ok()?,
        args[2].get().ok()?,
        args[3].get().ok()?,
    ))
}

/// The arguments of `accept-credentials`, emitted on a `B`.
pub(crate) fn accept_credentials_args<B>(
    args: &[glib::Value],
) -> Option<(&B, &gio::SocketConnection, &gio::Credentials)>
where
    for<'a> &'a B: glib::value::FromValue<'a>,
{
    Some((
        args[0].get::<&B>().ok()?,
        args[1].get().ok()?,
        args[2].get().ok()?,
    ))
}

/// The accumulator of a signal whose every handler must agree: the emission stops, refusing, at
/// the first handler that returns `false`.
pub(crate) fn all_agree(
    _hint: &SignalInvocationHint,
    _accumulated: glib::Value,
    handler_return: &glib::Value,
) -> ControlFlow<glib::Value, glib::Value> {
    if handler_return.get::<bool>().unwrap_or(false) {
        ControlFlow::Continue(handler_return.clone())
    } else {
        ControlFlow::Break(handler_return.clone())
    }
}

/// The arguments of `select-certificate`, emitted on a `B`.
pub(crate) fn select_certificate_args<B>(
    args: &[glib::Value],
) -> Option<(&B, &gio::SocketConnection, &crate::ClientHello)>
where
    for<'a> &'a B: glib::value::FromValue<'a>,
{
    Some((
        args[0].get::<&B>().ok()?,
        args[1].get().ok()?,
        args[2].get().ok()?,
    ))
}

/// The accumulator of a signal that returns an object or NULL: the emission stops at the first
/// handler that returns an object.
pub(crate) fn first_object(
    _hint: &SignalInvocationHint,
    _accumulated: glib::Value,
    handler_return: &glib::Value,
) -> ControlFlow<glib::Value, glib::Value> {
    if handler_return
        .get::<Option<glib::Object>>()
        .ok()
        .flatten()
        .is_some()
    {
        ControlFlow::Break(handler_return.clone())
    } else {
        ControlFlow::Continue(handler_return.clone())
    }
}
