"""QoS profiles of the lab's topics."""

from rclpy.clock import Clock, ClockType
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# Status-like topics: a late joiner gets the last message at once (docs/architecture.md).
LATCHED = QoSProfile(
    depth=1,
    history=HistoryPolicy.KEEP_LAST,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

# Relative names: a lab launched in a namespace keeps all of them inside it.
ESTOP_TOPIC = "lab/estop_state"
HEALTH_TOPIC = "lab/health"
POSITIONS_TOPIC = "lab/positions"
MANAGE_SERVICE = "lab/manage"
ESTOP_SERVICE = "lab/estop"
RESET_SERVICE = "lab/reset"

# Timers for status and health run on wall time even under use_sim_time: at 1000x sim time a
# 1 s ROS-time timer would fire every millisecond.
WALL_CLOCK = Clock(clock_type=ClockType.STEADY_TIME)
