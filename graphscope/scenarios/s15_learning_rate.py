"""Gradient descent on (theta - 2.5)**2 - 1: the learning rate
name: learning-rate
row: 15
seeds: 002
kinds:
nodes:
explanation: Plain Python, no autograd: the derivative 2 * (theta - 2.5) is written by hand, and
theta moves against it by eta times the slope until the loss changes by less than 1e-8. From
theta = 0, eta = 0.1 needs 46 entries in theta_history (45 steps), eta = 0.01 needs 424 and
eta = 0.001 needs 3682: smaller steps, more of them. eta = 0.8 overshoots, jumping from one side of
the minimum to the other, and still converges. eta = 1.1 overshoots further every time: theta runs
away until (theta - 2.5)**2 overflows and Python raises OverflowError. This is the slope that
autograd would compute for you; the loop is what an optimizer does with it.
"""


def derivative(theta):
    return 2 * (theta - 2.5)


def loss(theta):
    return (theta - 2.5) ** 2 - 1


theta_history = []


def gradient_descent(initial_theta, eta, epsilon=1e-8):
    theta = initial_theta
    theta_history.append(initial_theta)
    while True:
        gradient = derivative(theta)
        last_theta = theta
        theta = theta - eta * gradient
        theta_history.append(theta)
        if abs(loss(theta) - loss(last_theta)) < epsilon:
            break
    return theta


for eta in [0.1, 0.01, 0.001]:
    theta_history = []
    theta = gradient_descent(0.0, eta)
    print(
        f"eta={eta}: len(theta_history) = {len(theta_history)}, theta = {theta}, loss = {loss(theta)}"
    )

theta_history = []
theta = gradient_descent(0.0, 0.8)
sides = ["left" if t < 2.5 else "right" for t in theta_history[:5]]
print(
    f"eta=0.8: len(theta_history) = {len(theta_history)}, theta = {theta:.6f}, first sides: {sides}"
)

theta_history = []
try:
    gradient_descent(0.0, 1.1)
except OverflowError:
    print(
        f"eta=1.1: OverflowError after {len(theta_history)} entries, theta = {theta_history[-1]:.3e}"
    )
