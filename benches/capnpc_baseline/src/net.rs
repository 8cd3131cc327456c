//! Two-party capnp-rpc connections over tokio TCP streams, set up as capnp-rpc's own examples
//! do: buffered halves of the stream, one `RpcSystem` per connection in a task of the current
//! `LocalSet`.

use capnp::capability::{Client, FromClientHook};
use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, Disconnector, RpcSystem};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

/// One end of a connection: the peer's bootstrap capability, and a handle that closes the
/// connection.
pub struct Connection {
    /// The peer's bootstrap capability (broken if the peer offers none).
    pub peer: Client,
    /// Resolves when the connection is closed.
    pub disconnector: Disconnector<Side>,
}

impl Connection {
    /// The peer's bootstrap capability as the generated client `C`.
    pub fn bootstrap<C: FromClientHook>(&self) -> C {
        C::new(self.peer.hook.add_ref())
    }
}

/// Runs capnp-rpc over `stream` (a socket, or one end of an in-memory pipe), offering
/// `bootstrap` to the peer; `is_server` names the side. Must be called inside a
/// `tokio::task::LocalSet`, where the connection runs until it closes.
pub fn over<S>(stream: S, bootstrap: Option<Client>, is_server: bool) -> Connection
where
    S: AsyncRead + AsyncWrite + 'static,
{
    let (read, write) = tokio::io::split(stream);
    let (read, write) = (read.compat(), write.compat_write());
    let (side, peer_side) = if is_server {
        (Side::Server, Side::Client)
    } else {
        (Side::Client, Side::Server)
    };
    let network = twoparty::VatNetwork::new(
        futures::io::BufReader::new(read),
        futures::io::BufWriter::new(write),
        side,
        Default::default(),
    );
    let mut system = RpcSystem::new(Box::new(network), bootstrap);
    let peer: Client = system.bootstrap(peer_side);
    let disconnector = system.get_disconnector();
    tokio::task::spawn_local(system);
    Connection { peer, disconnector }
}

/// Serves `bootstrap` to every client of `listener` (with `TCP_NODELAY`), until accepting
/// fails. Must run inside a `tokio::task::LocalSet`.
pub async fn serve(listener: tokio::net::TcpListener, bootstrap: Client) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        over(stream, Some(bootstrap.clone()), true);
    }
}

/// Connects to a server at `address` (with `TCP_NODELAY`). Must be called inside a
/// `tokio::task::LocalSet`.
pub async fn connect(address: std::net::SocketAddr) -> std::io::Result<Connection> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    Ok(over(stream, None, false))
}
