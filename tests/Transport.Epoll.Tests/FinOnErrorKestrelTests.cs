using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace EpollTransport.Tests;

/// <summary><see cref="EpollTransportOptions.FinOnError"/> under Kestrel: <c>HttpContext.Abort()</c>.</summary>
public class FinOnErrorKestrelTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HttpContextAbortEndsWithFinOnlyWithTheOption(bool finOnError)
    {
        await using var app = await KestrelApp.StartAsync(
            o =>
            {
                o.ThreadCount = 1;
                o.FinOnError = finOnError;
            },
            web => web.Run(async context =>
            {
                await context.Response.WriteAsync("partial");
                await context.Response.Body.FlushAsync();
                context.Abort();
            }));

        using var client = await app.ConnectAsync();
        await client.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: test\r\n\r\n"));

        if (finOnError)
        {
            // End of stream, no reset. The flushed chunk may or may not have left before the abort (an abort
            // drops output not yet sent; with inline scheduling the send runs after the handler): a prefix.
            var response = Encoding.ASCII.GetString(await TransportHarness.ReceiveToEndAsync(client));
            Assert.True(response.Length == 0 || response.StartsWith("HTTP/1.1 200 OK\r\n", StringComparison.Ordinal), response);
        }
        else
        {
            var ex = await Assert.ThrowsAsync<SocketException>(() => TransportHarness.ReceiveToEndAsync(client));
            Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
        }
    }
}
