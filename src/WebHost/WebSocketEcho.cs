using System.Buffers;
using System.Net.WebSockets;

namespace EpollTransport.WebHost;

/// <summary>
/// The WebSocket echo endpoint, <c>/ws/echo</c>: every text and binary message comes back unchanged, frame by
/// frame (a message is never buffered whole, so its size is unbounded and memory per socket is one 16 KiB
/// buffer). A text message that is exactly <c>close</c> makes the server close the socket with
/// <see cref="WebSocketCloseStatus.NormalClosure"/> and <see cref="CloseDescription"/>. A close from the client
/// is answered in kind. A client that vanishes ends the socket quietly.
/// </summary>
internal static partial class WebSocketEcho
{
    /// <summary>The endpoint's path.</summary>
    public const string Path = "/ws/echo";

    /// <summary>The endpoint's log category (not under <c>EpollTransport</c>, which is the transport's).</summary>
    public const string LogCategory = "WebHost.WebSocketEcho";

    /// <summary>The text message that asks the server to close the socket.</summary>
    public const string CloseCommand = "close";

    /// <summary>The close description the server sends when asked to close.</summary>
    public const string CloseDescription = "Closing as requested";

    private const int BufferSize = 16 * 1024;

    private static readonly TimeSpan s_closeHandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Maps <c>GET /ws/echo</c>. Call <c>app.UseWebSockets()</c> before.</summary>
    /// <param name="endpoints">The route builder.</param>
    /// <returns>The route builder.</returns>
    public static IEndpointRouteBuilder MapWebSocketEcho(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.Map(Path, HandleAsync);
        return endpoints;
    }

    private static async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            context.Response.ContentType = "text/plain";
            await context.Response.WriteAsync("This endpoint speaks WebSocket only.\n", context.RequestAborted);
            return;
        }

        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(LogCategory);
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await EchoAsync(socket, buffer, context.RequestAborted);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The client vanished (reset, closed without a close frame) or broke the protocol: nobody is left
            // to answer. Returning ends the upgraded request, and the connection with it.
            Log.EchoEnded(logger, context.Connection.Id, ex.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task EchoAsync(WebSocket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        // Bytes of the current text message held back while it might still be the close command.
        var pending = 0;
        var messageLength = 0L;
        var command = System.Text.Encoding.ASCII.GetBytes(CloseCommand);

        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(pending), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, socket.CloseStatusDescription, cancellationToken);
                return;
            }

            messageLength += result.Count;
            var available = pending + result.Count;
            if (result.MessageType == WebSocketMessageType.Text && messageLength <= command.Length && !result.EndOfMessage)
            {
                // Too short to tell yet: hold it back (at most the command's length).
                pending = available;
                continue;
            }

            if (result.MessageType == WebSocketMessageType.Text && result.EndOfMessage &&
                messageLength == command.Length && buffer.AsSpan(0, available).SequenceEqual(command))
            {
                // The close handshake waits for the client's close frame; a client that never sends one does
                // not keep the socket.
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                handshake.CancelAfter(s_closeHandshakeTimeout);
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, CloseDescription, handshake.Token);
                return;
            }

            await socket.SendAsync(buffer.AsMemory(0, available), result.MessageType, result.EndOfMessage, cancellationToken);
            pending = 0;
            if (result.EndOfMessage)
            {
                messageLength = 0;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Connection id \"{ConnectionId}\": WebSocket echo ended without a close handshake: {Reason}", EventName = "EchoEnded")]
        public static partial void EchoEnded(ILogger logger, string connectionId, string reason);
    }
}
