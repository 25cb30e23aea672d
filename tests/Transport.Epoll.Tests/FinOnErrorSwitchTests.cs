namespace EpollTransport.Tests;

/// <summary>
/// <see cref="EpollTransportOptions.FinOnError"/>'s default follows Kestrel's AppContext switch. Setting the switch
/// changes the default of every options object made meanwhile, so this collection runs alone, and leaves the switch
/// false, which reads as unset does.
/// </summary>
[Collection(Name)]
public sealed class FinOnErrorSwitchTests
{
    /// <summary>The collection's name.</summary>
    public const string Name = "The FinOnError AppContext switch";

    private const string Switch = "Microsoft.AspNetCore.Server.Kestrel.FinOnError";

    [Fact]
    public void UnsetTheDefaultIsFalseAsInKestrel()
    {
        Assert.False(AppContext.TryGetSwitch(Switch, out bool value) && value);
        Assert.False(new EpollTransportOptions().FinOnError);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheDefaultIsTheSwitchsValue(bool value)
    {
        try
        {
            AppContext.SetSwitch(Switch, value);
            Assert.Equal(value, new EpollTransportOptions().FinOnError);

            // Set explicitly, the option wins over the switch.
            Assert.Equal(!value, new EpollTransportOptions { FinOnError = !value }.FinOnError);
        }
        finally
        {
            AppContext.SetSwitch(Switch, false);
        }
    }
}

/// <summary>Runs <see cref="FinOnErrorSwitchTests"/> with no other test alongside.</summary>
[CollectionDefinition(FinOnErrorSwitchTests.Name, DisableParallelization = true)]
public sealed class FinOnErrorSwitchRunsAlone
{
}
