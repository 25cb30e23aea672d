using System.Net;
using System.Net.Sockets;
using System.Text;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The built host in its own process and a client that sends its request and then shuts down its sending side,
/// as <c>printf 'GET / HTTP/1.0\r\n\r\n' | nc -N 127.0.0.1 5000</c> does. With
/// <c>--EpollTransport:AllowHalfClose true</c> the epoll transport answers it in full; by default, and always on
/// Kestrel's Sockets transport, Kestrel takes the FIN for the client leaving and aborts the request.
/// </summary>
/// <param name="output">The test output.</param>
public sealed class HalfClosingClientTests(ITestOutputHelper output)
{
    private const string SlowPath = "/test/slow?ms=300";
    private const string SlowBody = "Waited 300 ms.\n";

    [Theory]
    [InlineData("Epoll", "true", true)]
    [InlineData("Epoll", null, false)]
    [InlineData("Sockets", "true", false)] // an epoll transport setting: Sockets ignores it
    public async Task AHalfClosingClientIsAnsweredOnlyWithAllowHalfClose(string transport, string? allowHalfClose, bool answered)
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        await using var host = await WebHostProcess.StartServerAsync(
            transport,
            cts.Token,
            arguments: allowHalfClose is null ? [] : ["--EpollTransport:AllowHalfClose", allowHalfClose]);
        try
        {
            var endPoint = new IPEndPoint(IPAddress.Loopback, host.AddressFor("http").Port);

            // A handler still at work when the FIN arrives: answered only with the option.
            var (slow, slowReset) = await HalfClosedRequestAsync(endPoint, SlowPath, cts.Token);
            var slowText = Encoding.ASCII.GetString(slow);
            if (answered)
            {
                Assert.False(slowReset);
                Assert.StartsWith("HTTP/1.1 200 OK\r\n", slowText, StringComparison.Ordinal);
                Assert.EndsWith("\r\n\r\n" + SlowBody, slowText, StringComparison.Ordinal);

                // The example in docs/TRANSPORT.md (AllowHalfClose): a static file, in full, then end of stream.
                var (index, indexReset) = await HalfClosedRequestAsync(endPoint, "/", cts.Token);
                Assert.False(indexReset);
                Assert.StartsWith("HTTP/1.1 200 OK\r\n", Encoding.ASCII.GetString(index), StringComparison.Ordinal);
                Assert.True(index.AsSpan().EndsWith(TestPaths.ReadWebRootFile("index.html")), "the body is not index.html");
            }
            else
            {
                // The headers may have left before the abort; the body never comes.
                Assert.DoesNotContain(SlowBody, slowText, StringComparison.Ordinal);
            }
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    private static async Task<(byte[] Received, bool Reset)> HalfClosedRequestAsync(EndPoint endPoint, string path, CancellationToken cancellationToken)
    {
        using var client = await RawHttpConnection.ConnectAsync(endPoint, cancellationToken);
        await client.SendAsync($"GET {path} HTTP/1.0\r\n\r\n", cancellationToken);
        client.Socket.Shutdown(SocketShutdown.Send);
        return await client.ReadToEndOrResetAsync(cancellationToken);
    }
}
