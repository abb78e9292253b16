//! [`IncomingStream`]: a service's connections as a `futures_core::Stream`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use glib::prelude::*;
use glib::signal::SignalHandlerId;
use glib::subclass::prelude::*;

use super::{SocketService, SocketServiceExt};

/// The connections a [`SocketService`] hands out, as a [`Stream`](futures_core::Stream) of
/// `(connection, source_object)`, from [`SocketServiceExt::incoming_stream`].
///
/// It is an `incoming` handler, connected when the stream is made, that queues each connection
/// for the stream's reader (and returns `false`, so other handlers still see it), to be read on
/// the service's context:
///
/// ```no_run
/// use futures_util::StreamExt;
/// use gio::prelude::*;
/// use usher::prelude::*;
///
/// let service = usher::SocketService::new();
/// service.add_inet_port(1024, None::<&glib::Object>)?;
/// // Made before the main loop runs: connections handed out before are not queued.
/// let mut incoming = service.incoming_stream();
/// glib::spawn_future_local(async move {
///     while let Some((connection, _source_object)) = incoming.next().await {
///         glib::spawn_future_local(async move {
///             let _ = connection.output_stream().write_all_future(b"hello\n", glib::Priority::DEFAULT).await;
///         });
///     }
/// });
/// glib::MainLoop::new(None, false).run();
/// # Ok::<(), glib::Error>(())
/// ```
///
/// It keeps the service alive, and ends once the service's listener is closed for good (by
/// [`shutdown_future`](SocketServiceExt::shutdown_future), say), the service has nothing more to
/// hand out (a shutdown first serves every client already accepted), and the queue is read.
/// Dropping it disconnects its handler.
#[must_use = "a stream does nothing unless polled"]
pub struct IncomingStream {
    service: SocketService,
    queue: Rc<RefCell<Queue>>,
    handler: Option<SignalHandlerId>,
}

#[derive(Default)]
struct Queue {
    connections: VecDeque<(gio::SocketConnection, Option<glib::Object>)>,
    waker: Option<Waker>,
}

impl IncomingStream {
    pub(super) fn new(service: &SocketService) -> Self {
        let queue = Rc::new(RefCell::new(Queue::default()));
        let incoming = service.connect_incoming({
            let queue = queue.clone();
            move |_, connection, source_object| {
                let mut queue = queue.borrow_mut();
                queue
                    .connections
                    .push_back((connection.clone(), source_object.cloned()));
                if let Some(waker) = queue.waker.take() {
                    waker.wake();
                }
                false
            }
        });
        Self {
            service: service.clone(),
            queue,
            handler: Some(incoming),
        }
    }
}

impl futures_core::Stream for IncomingStream {
    type Item = (gio::SocketConnection, Option<glib::Object>);

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut queue = self.queue.borrow_mut();
        if let Some(connection) = queue.connections.pop_front() {
            Poll::Ready(Some(connection))
        } else if self.service.imp().engine.wake_when_closed(context.waker()) {
            Poll::Ready(None)
        } else {
            queue.waker = Some(context.waker().clone());
            Poll::Pending
        }
    }
}

impl Drop for IncomingStream {
    fn drop(&mut self) {
        if let Some(handler) = self.handler.take() {
            self.service.disconnect(handler);
        }
        if let Some(waker) = self.queue.borrow_mut().waker.take() {
            self.service.imp().engine.forget_stream_waker(&waker);
        }
    }
}

impl std::fmt::Debug for IncomingStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingStream")
            .field("queued", &self.queue.borrow().connections.len())
            .field("lifecycle", &self.service.imp().engine.lifecycle())
            .finish()
    }
}
