"""Grading fidelity, benchmark by benchmark: realistic (response, gold, verdict) cases.

Golds are taken from (or shaped like) the real rows of each benchmark; responses are the ways
reasoning models actually write answers, including the classic traps. Together with
test_grading.py this is the fidelity table the README's RELIABILITY section counts.
"""

import pytest

from cotbench.harness_tasks.grading import grade_choice, grade_math


def math_verdict(response, gold, **options):
    """grade_math's verdict, which is never `grader_error` on any case of this table (issue 27: a
    pathological expression is graded `timeout`, an error inside a rule means the rule does not apply)."""
    verdict = grade_math(response, gold, **options)
    assert verdict.reason != "grader_error", verdict
    return verdict


def choice_verdict(response, gold, **options):
    """grade_choice's verdict, never `grader_error` on any case of this table."""
    verdict = grade_choice(response, gold, **options)
    assert verdict.reason != "grader_error", verdict
    return verdict

AIME_CASES = [  # integer answers 0-999
    (r"\boxed{70}", "70", True),
    (r"\boxed{070}", "70", True),
    (r"\boxed{588}", "588", True),
    (r"\boxed{16}", "61", False),
    ("**Final Answer**\n\\[\n\\boxed{117}\n\\]", "117", True),
    ("The final answer is $\\boxed{279}$.", "279", True),
    (r"\boxed{504.}", "504", True),
    (r"\boxed{821.0}", "821", True),
    (r"\boxed{77}\boxed{62}", "62", True),
    (r"\boxed{62}\boxed{77}", "62", False),
    (r"we get $m+n = 81$, so \boxed{81}", "81", True),
    (r"$m+n=\boxed{259}$", "259", True),
    (r"\boxed{m+n=510}", "510", True),
    (r"\boxed{204}", "240", False),
    (r"\boxed{\text{60}}", "60", True),
    (r"\boxed{735 }", "735", True),
    (r"\boxed{ 468}", "468", True),
    (r"\boxed{49}\text{ is the answer}", "49", True),
    (r"\boxed{82\%}", "82", True),
    (r"\boxed{106^\circ}", "106", True),
    (r"\boxed{336} (mod 1000)", "336", True),
    (r"\boxed{1293}", "293", False),
    (r"\boxed{-237}", "237", False),
    (r"\boxed{610/1}", "610", True),
    (r"\boxed{\frac{298}{2}}", "149", True),
    (r"\boxed{907}", "907", True),
    ("Therefore, the answer is 113.", "113", True),
    ("so the remainder is $\\boxed{19}$.</think>\n\nThe answer is $\\boxed{19}$.", "19", True),
    ("I think it's 248 but let me... </think>\n\nThe answer is \\boxed{284}.", "248", False),
    (r"\boxed{104}", "104", True),
    (r"\boxed{2^{4} \cdot 15}", "240", True),
    (r"\boxed{}", "240", False),
    ("Wait, I ran out of time.", "240", False),
    (r"\boxed{999}", "0", False),
    (r"\boxed{0}", "0", True),
]

AMC_CASES = [  # integers, occasionally fractions
    (r"\boxed{27}", "27", True),
    (r"\boxed{36}", "45", False),
    (r"\boxed{3159}", "3159", True),
    (r"\boxed{3,159}", "3159", True),
    (r"\boxed{-1}", "-1", True),
    (r"\boxed{1}", "-1", False),
    (r"\boxed{\textbf{(C)}\ 7}", "7", True),
    (r"\boxed{265}", "265", True),
    (r"\boxed{\frac{18}{1}}", "18", True),
    (r"\boxed{1625}", "1625", True),
    (r"\boxed{901}", "910", False),
    (r"\boxed{144}", "144", True),
    (r"\boxed{50.0}", "50", True),
    (r"\boxed{13}", "31", False),
    (r"\boxed{\sqrt{25}}", "5", True),
    (r"\boxed{3^2}", "9", True),
    ("The answer is $\\textbf{(B) } 11$, i.e. \\boxed{11}", "11", True),
    (r"\boxed{194}", "194", True),
    (r"\boxed{4.5}", r"\frac{9}{2}", True),
    (r"\boxed{\frac{9}{2}}", "4.5", True),
    (r"\boxed{0.5}", r"\frac{1}{2}", True),
    (r"\boxed{96}", "69", False),
    (r"\boxed{8}\quad", "8", True),
    (r"\boxed{6}", "6", True),
    (r"\boxed{29}", "29", True),
]

MATH500_CASES = [  # LaTeX answers of every shape
    (r"\boxed{\frac{14}{3}}", r"\frac{14}{3}", True),
    (r"\boxed{14/3}", r"\frac{14}{3}", True),
    (r"\boxed{4\frac{2}{3}}", r"\frac{14}{3}", True),
    (r"\boxed{4.67}", r"\frac{14}{3}", False),
    (r"\boxed{3\sqrt{13}}", r"3\sqrt{13}", True),
    (r"\boxed{\sqrt{117}}", r"3\sqrt{13}", True),
    (r"\boxed{3 \sqrt{13}}", r"3\sqrt{13}", True),
    (r"\boxed{13\sqrt{3}}", r"3\sqrt{13}", False),
    (r"\boxed{\frac{3}{56}}", r"\frac{3}{56}", True),
    (r"\boxed{\frac{56}{3}}", r"\frac{3}{56}", False),
    (r"\boxed{6 - 5i}", "6 - 5i", True),
    (r"\boxed{6-5i}", "6 - 5i", True),
    (r"\boxed{6 + 5i}", "6 - 5i", False),
    (r"\boxed{\pi}", r"\pi", True),
    (r"\boxed{3.14159}", r"\pi", False),
    (r"\boxed{6+9i}", "6+9i", True),
    (r"\boxed{x=5}", "x=5", True),
    (r"\boxed{5}", "x=5", True),
    (r"\boxed{x=-5}", "x=5", False),
    (r"\boxed{1, -2}", "1,-2", True),
    (r"\boxed{-2, 1}", "1,-2", True),
    (r"\boxed{1}", "1,-2", False),
    (r"\boxed{-2+7i}", "-2 + 7i", True),
    (r"\boxed{52_8}", "52_8", True),
    (r"\boxed{11\sqrt{2}}", r"11\sqrt2", True),
    (r"\boxed{11\sqrt{3}}", r"11\sqrt2", False),
    (r"\boxed{\frac{243}{625}}", r"\frac{243}{625}", True),
    (r"\boxed{0.3888}", r"\frac{243}{625}", True),
    (r"\boxed{3, 5, 7}", "3, 5, 7", True),
    (r"\boxed{3, 5}", "3, 5, 7", False),
    (r"\boxed{.35625}", ".35625", True),
    (r"\boxed{0.35625}", ".35625", True),
    (r"\boxed{\frac{57}{160}}", ".35625", True),
    (r"\boxed{(6,31,-1)}", "(6,31,-1)", True),
    (r"\boxed{(6, 31, -1)}", "(6,31,-1)", True),
    (r"\boxed{(31,6,-1)}", "(6,31,-1)", False),
    (r"\boxed{\frac{\sqrt{21}}{5}}", r"\frac{\sqrt{21}}{5}", True),
    (r"\boxed{\sqrt{21}/5}", r"\frac{\sqrt{21}}{5}", True),
    (r"\boxed{\sqrt{\frac{21}{25}}}", r"\frac{\sqrt{21}}{5}", True),
    (r"\boxed{(-\sqrt{3}, \sqrt{3})}", r"(-\sqrt{3}, \sqrt{3})", True),
    (r"\boxed{[-\sqrt{3}, \sqrt{3}]}", r"(-\sqrt{3}, \sqrt{3})", False),
    (r"\boxed{288\pi}", r"288 \pi", True),
    (r"\boxed{288}", r"288 \pi", False),
    (r"\boxed{\frac{17}{50}}", r"\dfrac{17}{50}", True),
    (r"\boxed{0.34}", r"\dfrac{17}{50}", True),
    (r"\boxed{\frac 59}", r"\frac 59", True),
    (r"\boxed{\frac{5}{9}}", r"\frac 59", True),
    (r"\boxed{3 \pm 2\sqrt{2}}", r"3 \pm 2 \sqrt{2}", True),
    (r"\boxed{3+2\sqrt{2}, 3-2\sqrt{2}}", r"3 \pm 2 \sqrt{2}", True),
    (r"\boxed{137\frac{1}{2}}", r"137 \frac{1}{2}", True),
    (r"\boxed{137.5}", r"137 \frac{1}{2}", True),
    (r"\boxed{x^5 - x^4 + x^3 - x^2 + x - 1}", "x^5 - x^4 + x^3 - x^2 + x - 1", True),
    (r"\boxed{x^5 + x^4 + x^3 - x^2 + x - 1}", "x^5 - x^4 + x^3 - x^2 + x - 1", False),
    (r"\boxed{(0,9) \cup (9,36)}", r"(0,9) \cup (9,36)", True),
    (r"\boxed{(0,36)}", r"(0,9) \cup (9,36)", False),
    (r"\boxed{.0000672}", ".0000672", True),
    (r"\boxed{6.72 \times 10^{-5}}", ".0000672", True),
    (r"\boxed{-256}", "-256", True),
    (r"\boxed{\$1736}", "1736", True),
    (r"\boxed{2000}", "2000", True),
    (r"\boxed{2{,}000}", "2000", True),
    (r"\boxed{\text{(C)}}", r"\text{(C)}", True),
    (r"\boxed{C}", r"\text{(C)}", True),
    (r"\boxed{\text{Evelyn}}", r"\text{Evelyn}", True),
    (r"\boxed{90}", r"90^\circ", True),
    (r"\boxed{90^{\circ}}", r"90^\circ", True),
    (r"\boxed{\frac{\pi}{2}}", r"90^\circ", False),
    (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)", True),
    (r"\boxed{[1, \infty)}", r"[1,\infty)", True),
    (r"\boxed{(1, \infty)}", r"[1,\infty)", False),
    (r"\boxed{(-\infty, -2) \cup (2, \infty)}", r"(-\infty,-2)\cup(2,\infty)", True),
    (r"\boxed{y = 2x + 3}", "y = 2x + 3", True),
    (r"\boxed{2x+3}", "y = 2x + 3", True),
    (r"\boxed{y = 3x + 2}", "y = 2x + 3", False),
    (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", True),
    (r"\boxed{\begin{pmatrix} 2 \\ 1 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", False),
    (r"\boxed{10\%}", "10", True),
    (r"\boxed{0.1}", r"10\%", False),
    (r"\boxed{\frac{1}{\sqrt{2}}}", r"\frac{\sqrt{2}}{2}", True),
    (r"\boxed{2^{10}}", "1024", True),
    (r"\boxed{1023}", "1024", False),
    (r"\boxed{\log_2 8}", "3", True),
    pytest.param(
        r"\boxed{e^{i\pi}}", "-1", True, marks=pytest.mark.xfail(strict=True, reason="known: math-verify does not simplify e^{i pi}")
    ),
    (r"\boxed{\{1, 2, 3\}}", r"\{1,2,3\}", True),
    (r"\boxed{\{1, 2\}}", r"\{1,2,3\}", False),
    (r"\boxed{a = 2, b = 3}", "a=2, b=3", True),
    (r"The area is $\boxed{24 \text{ square units}}$.", "24", True),
    (r"\boxed{24\text{ cm}^2}", "24", True),
    (r"\boxed{5\text{ inches}}", "5", True),
    (r"\boxed{\textbf{(D)}}", r"\text{(D)}", True),
    (r"\boxed{\frac{1}{2}}\text{ and then }\boxed{\frac{1}{3}}", r"\frac{1}{3}", True),
    (r"\boxed{\frac{1}{3}}\text{ and then }\boxed{\frac{1}{2}}", r"\frac{1}{3}", False),
    (r"\(\boxed{17}\)", "17", True),
    (r"\[ \boxed{ -41 } \]", "-41", True),
    (r"\boxed{\dfrac{9}{256}}", r"\frac{9}{256}", True),
    (r"\boxed{\tfrac{9}{256}}", r"\frac{9}{256}", True),
    (r"\boxed{9/256}", r"\frac{9}{256}", True),
    (r"\boxed{0.03515625}", r"\frac{9}{256}", True),
    (r"\boxed{0.035}", r"\frac{9}{256}", False),
]

GSM8K_CASES = [  # integer golds (the text after ####, commas removed)
    (r"\boxed{18}", "18", True),
    (r"\boxed{\$18}", "18", True),
    (r"\boxed{18 \text{ dollars}}", "18", True),
    (r"\boxed{\$18.00}", "18", True),
    (r"\boxed{18.00}", "18", True),
    (r"\boxed{17.99}", "18", False),
    (r"\boxed{70,000}", "70000", True),
    (r"\boxed{70{,}000}", "70000", True),
    (r"\boxed{\$70,000}", "70000", True),
    (r"\boxed{7000}", "70000", False),
    (r"\boxed{540}", "540", True),
    (r"\boxed{540 \text{ meters}}", "540", True),
    (r"\boxed{20\%}", "20", True),
    (r"\boxed{64}", "46", False),
    (r"\boxed{260}", "260", True),
    ("Janet makes 9 * 2 = $18 every day.\n#### 18", "18", True),
    ("She has 3 left. The answer is 3.", "3", True),
    ("So she has \\boxed{3} bolts.", "3", True),
    (r"\boxed{57,500}", "57500", True),
    (r"\boxed{57.5}", "57500", False),
    (r"\boxed{7 \text{ hours}}", "7", True),
    (r"\boxed{6}", "6", True),
    (r"\boxed{15 \text{ minutes}}", "15", True),
    (r"\boxed{14}", "14", True),
    (r"\boxed{8 \text{ pounds}}", "8", True),
    (r"\boxed{26}", "62", False),
    (r"\boxed{2}", "2", True),
    (r"\boxed{243}", "243", True),
    (r"\boxed{16\text{ cups}}", "16", True),
    (r"\boxed{25}", "25", True),
    (r"\boxed{104}", "104", True),
    (r"\boxed{80}", "80", True),
    (r"\boxed{35 \text{ dollars}}", "35", True),
    (r"\boxed{70}", "80", False),
    (r"\boxed{-23}", "23", False),
    (r"\boxed{9 \text{ apples}} and \boxed{75}", "75", True),
    (r"\boxed{2 + 2}", "4", True),
    (r"\boxed{10 \cdot 1.8}", "18", True),
    (r"\boxed{x}", "18", False),
    ("The answer is eighteen.", "18", False),
    ("<think>18 maybe 19</think>", "18", False),  # nothing after </think>: no answer
]

# --- issue 13's categories, each built on real golds (row ids in the comments) ---------------

UNBOXED_MATH_CASES = [  # answers stated without a box: read by the fallback (extracted_by="fallback")
    ("Therefore, the solution to the equation is $x = 6$.", "6", True),  # math500 prealgebra/505
    ("Therefore, the solution to the equation is $x = 5$.", "6", False),
    ("5 * 6 * 8 = 240, so there are 240 possible outfits.", "240", True),  # math500 prealgebra/307
    ("5 + 6 + 8 = 19, so there are 19 possible outfits.", "240", False),
    ("The final answer is $\\frac{14}{3}$.", r"\frac{14}{3}", True),  # math500 algebra/2584
    ("So $f(-2)+f(-1)+f(0) = \\frac{14}{3}$.", r"\frac{14}{3}", True),
    ("So $f(-2)+f(-1)+f(0) = \\frac{3}{14}$.", r"\frac{14}{3}", False),
    ("Each side of the octagon is $96/8 = 12$ cm.", "12", True),  # math500 prealgebra/930
    ("The height is $h = \\frac{45\\pi}{9\\pi} = 5$ cm.", "5", True),  # math500 geometry/248
    ("Hence $m+n = 204$.", "204", True),  # aime24 (gold 204)
    ("Hence $m+n = 240$.", "204", False),
    ("<think>so 6</think>\n\nThe smallest such $n$ is $6$.", "6", True),  # math500 precalculus/285
    ("<think>so 6</think>\n\nThe smallest such $n$ is $12$.", "6", False),
]

GSM8K_UNBOXED_CASES = [  # GSM8K's own style: the last number is the answer (gsm8k-0000 … 0005)
    ("She sells 16 - 3 - 4 = 9 eggs a day, so she makes 9 * $2 = $18 every day.", "18", True),
    ("She sells 16 - 3 - 4 = 9 eggs a day.", "18", False),
    ("It takes 2 / 2 = 1 bolt of white fiber, so 2 + 1 = 3 bolts in total.", "3", True),
    ("It takes 2 bolts of blue fiber.", "3", False),
    ("The house is worth $80,000 * 2.5 = $200,000, so he made $200,000 - $130,000 = $70,000.", "70000", True),
    ("He spent $80,000 + $50,000 = $130,000.", "70000", False),
    ("He runs 3 * 3 = 9 sprints of 60 meters, so 9 * 60 = 540 meters a week.", "540", True),
    ("She gives 15 + 25 = 40 cups, so the final meal needs 60 - 40 = 20 cups.", "20", True),
    ("So the final meal needs 20 cups of feed.", "20", True),
    ("The total is 8 * 5 + 8 * 3 = 64 dollars.", "64", True),
    ("The total is 16 * 5 = 80 dollars.", "64", False),
]

NUMERIC_CASES = [  # relative tolerance, exact in value; radicals of decimals; no decimal-place rounding
    (r"\boxed{0.0000668}", ".0000672", False),  # math500 number_theory/598
    (r"\boxed{0.0000676}", ".0000672", False),
    (r"\boxed{0.0000672}", ".0000672", True),
    (r"\boxed{6.72 \cdot 10^{-5}}", ".0000672", True),
    (r"\boxed{\frac{21}{312500}}", ".0000672", True),
    (r"\boxed{5\sqrt{2.12}}", r"\sqrt{53}", True),  # math500 prealgebra/1834
    (r"\boxed{5\sqrt{2.13}}", r"\sqrt{53}", False),
    (r"\boxed{7.28}", r"\sqrt{53}", False),
    (r"\boxed{\sqrt{2.12 \cdot 25}}", r"\sqrt{53}", True),
    (r"\boxed{\frac{3}{20}}", "0.15", True),  # math500 prealgebra/572
    (r"\boxed{0.150}", "0.15", True),
    (r"\boxed{0.1500001}", "0.15", False),
    (r"\boxed{326.50}", "326.5", True),  # math500 prealgebra/1784
    (r"\boxed{326.4}", "326.5", False),
]

REPEATING_DECIMAL_CASES = [  # \overline / \bar notation against fraction golds
    (r"\boxed{0.\overline{3}}", r"\frac{1}{3}", True),  # math500 counting_and_probability/430
    (r"\boxed{0.333}", r"\frac{1}{3}", False),
    (r"\boxed{4.\overline{6}}", r"\frac{14}{3}", True),  # math500 algebra/2584
    (r"\boxed{4.\overline{3}}", r"\frac{14}{3}", False),
    (r"\boxed{0.\overline{4}}", r"\frac{4}{9}", True),  # math500 prealgebra/1356
    (r"\boxed{0.\overline{90}}", r"\frac{10}{11}", True),  # math500 intermediate_algebra/1123
    (r"\boxed{0.\overline{9}}", r"\frac{10}{11}", False),
    (r"\boxed{2.1\overline{6}}", r"\frac{13}{6}", True),  # math500 algebra/509
    (r"\boxed{2.\overline{16}}", r"\frac{13}{6}", False),
    (r"\boxed{0.\bar{6}}", r"\frac{2}{3}", True),  # math500 algebra/291
    (r"\boxed{0.666}", r"\frac{2}{3}", False),
]

INEQUALITY_CASES = [  # an inequality answer for an interval gold, and the reverse
    (r"\boxed{x > 2}", r"(2,\infty)", True),  # math500 intermediate_algebra/183
    (r"\boxed{x \ge 2}", r"(2,\infty)", False),
    (r"\boxed{x > 3}", r"(2,\infty)", False),
    (r"\boxed{5 < x}", r"(5,\infty)", True),  # math500 intermediate_algebra/1714
    (r"\boxed{x \geq 5}", r"(5,\infty)", False),
    (r"\boxed{y \le 0}", r"(-\infty, 0]", True),  # math500 precalculus/695
    (r"\boxed{y < 0}", r"(-\infty, 0]", False),
    (r"\boxed{x < 2 \text{ or } x > 3}", r"(-\infty, 2) \cup (3, \infty)", True),  # math500 algebra/2043
    (r"\boxed{2 < x < 3}", r"(-\infty, 2) \cup (3, \infty)", False),
    (r"\boxed{x \le 2 \text{ or } x \ge 3}", r"(-\infty, 2) \cup (3, \infty)", False),
    (r"\boxed{(2, \infty)}", "x > 2", True),
]

# The options of real MMLU rows (their ids in the comments).
RELIGIONS = ["Buddhism", "Daoism", "Confucianism", "Shamanism"]  # mmlu world_religions-test-013
PHOSPHORS = ["Zinc silicate.", "Calcium silicate.", "Zinc sulphide.", "Magnesium silicate."]  # mmlu electrical_engineering-test-011
TIMINGS = ["20 and 10 seconds", "30 and 15 seconds", "50 and 25 seconds", "70 and 55 seconds"]  # mmlu college_computer_science-test-037
VERDICTS = ["Wrong, Wrong", "Wrong, Not wrong", "Not wrong, Wrong", "Not wrong, Not wrong"]  # mmlu moral_scenarios-test-812

MMLU_OPTION_TEXT_CASES = [  # the option's text boxed or stated instead of its letter (real rows)
    (r"\boxed{Daoism}", "B", RELIGIONS, True),  # world_religions-test-013
    (r"\boxed{\text{Daoism}}", "B", RELIGIONS, True),
    (r"\boxed{\text{Buddhism}}", "B", RELIGIONS, False),
    ("The answer is Daoism.", "B", RELIGIONS, True),
    (r"\boxed{B}", "B", RELIGIONS, True),
    (r"\boxed{\text{Magnesium silicate}}", "D", PHOSPHORS, True),  # electrical_engineering-test-011
    (r"\boxed{\text{Zinc silicate.}}", "D", PHOSPHORS, False),
    (r"\boxed{70 \text{ and } 55 \text{ seconds}}", "D", TIMINGS, True),  # college_computer_science-test-037
    (r"\boxed{20 \text{ and } 10 \text{ seconds}}", "D", TIMINGS, False),
    (r"\boxed{\text{Not wrong, Not wrong}}", "D", VERDICTS, True),  # moral_scenarios-test-812
    (r"\boxed{\text{Wrong, Not wrong}}", "D", VERDICTS, False),
    (r"\boxed{\text{mediator variable}}", "B", ["moderator variable.", "mediator variable.", "latent variable.", "suppressor variable."], True),  # professional_psychology-test-076
    (r"\boxed{\text{Surveying}}", "C", ["surveying the cheerleaders for the home team", "surveying people wearing hats for the visiting team", "surveying a group of people standing in line for tickets", "surveying people who do not live in the home team’s city"], False),  # elementary_mathematics-test-136: matches no single option
]


MMLU_CASES = [  # option letters
    (r"\boxed{B}", "B", True),
    (r"\boxed{\text{B}}", "B", True),
    (r"\boxed{\textbf{B}}", "B", True),
    (r"\boxed{\mathrm{B}}", "B", True),
    (r"\boxed{(B)}", "B", True),
    (r"\boxed{B)}", "B", True),
    (r"\boxed{B.}", "B", True),
    (r"\boxed{B: 42}", "B", True),
    (r"\boxed{(B) 42}", "B", True),
    (r"\boxed{A}", "B", False),
    (r"\boxed{C}", "B", False),
    (r"\boxed{d}", "D", True),
    ("The correct answer is (D).", "D", True),
    ("Answer: C", "C", True),
    ("answer: c", "C", True),
    ("So the answer is A.", "A", True),
    ("Option B is correct.", "B", True),
    (r"\boxed{A}\ldots\boxed{C}", "C", True),
    (r"\boxed{C}\ldots\boxed{A}", "C", False),
    ("<think>maybe B</think>\n\n**Final Answer**\n\\boxed{D}", "D", True),
    ("<think>maybe B</think>\n\n**Final Answer**\n\\boxed{D}", "B", False),
    (r"\boxed{E}", "A", False),
    (r"\boxed{AB}", "A", False),
    (r"\boxed{}", "A", False),
    ("All of the above seem plausible.", "A", False),
    ("", "C", False),
]


@pytest.mark.parametrize(
    "response,gold,expected", AIME_CASES + AMC_CASES + MATH500_CASES + GSM8K_CASES, ids=lambda value: repr(value)[:40]
)
def test_math_fidelity(response, gold, expected):
    verdict = math_verdict(response, gold)
    assert verdict.correct is expected, verdict


ISSUE_13_CASES = [(*case, "fallback") for case in UNBOXED_MATH_CASES + GSM8K_UNBOXED_CASES] + [
    (*case, "box") for case in NUMERIC_CASES + REPEATING_DECIMAL_CASES + INEQUALITY_CASES
]


@pytest.mark.parametrize("response,gold,expected,source", ISSUE_13_CASES, ids=lambda value: repr(value)[:40])
def test_issue_13_categories(response, gold, expected, source):
    verdict = math_verdict(response, gold)
    assert verdict.correct is expected, verdict
    assert verdict.extracted_by == source, verdict
    if source == "fallback":  # box-only grading finds no answer in the same text
        assert math_verdict(response, gold, extraction="strict").reason == "no_answer"


@pytest.mark.parametrize("response,gold,choices,expected", MMLU_OPTION_TEXT_CASES, ids=lambda value: repr(value)[:40])
def test_mmlu_option_text_counts_as_its_letter(response, gold, choices, expected):
    verdict = choice_verdict(response, gold, choices=choices)
    assert verdict.correct is expected, verdict


@pytest.mark.parametrize("response,gold,expected", MMLU_CASES, ids=lambda value: repr(value)[:40])
def test_choice_fidelity(response, gold, expected):
    verdict = choice_verdict(response, gold)
    assert verdict.correct is expected, verdict


# --- issue 27's categories, each built on real golds (row ids in the comments) ---------------

LAST_STATEMENT_CASES = [  # (response, gold, expected, extracted_by): the answer stated last, whatever its form
    ("I get \\boxed{16}. Wait, she also bakes with 4, so 16 - 3 - 4 = 9 and 9 * 2 = 18.\nAnswer: 18", "18", True, "fallback"),  # gsm8k-0000
    ("The answer is 16.\nWait, 16 - 3 - 4 = 9 eggs and 9 * 2 = 18, so \\boxed{18}", "18", True, "box"),  # gsm8k-0000
    ("Answer: 18\nHmm, she eats three, so actually the answer is 16.", "18", False, "fallback"),  # gsm8k-0000
    ("To express the answer as a percentage: 60 / 150 * 100% = 40%.\nSo 40 percent are blue.\n#### 40", "40", True, "fallback"),  # gsm8k-0728
    ("To express the answer as a percentage: 60 / 150 * 100% = 40%.\n#### 45", "40", False, "fallback"),  # gsm8k-0728
    ("The final answer is 12. Rechecking: 96 / 8 = 12 cm per side.\n#### 12", "12", True, "fallback"),  # math500 prealgebra/930
    ("The answer is $\\frac{3}{14}$? No: $f(-2)+f(-1)+f(0) = \\frac{14}{3}$, so $\\boxed{\\frac{14}{3}}$.", r"\frac{14}{3}", True, "box"),  # math500 algebra/2584
    ("**Final Answer**\n\\boxed{240}\n\nCorrection: the final answer is 204.", "204", True, "fallback"),  # aime24 (gold 204)
    ("**Final Answer:** 204\n\nLet me double-check the answer: yes, it holds.", "204", True, "fallback"),  # aime24 (gold 204)
    ("The answer is 3 bolts.\n\nI hope this helps!", "3", True, "fallback"),  # gsm8k-0001
    ("The answer is 18 dollars.", "18", True, "fallback"),  # gsm8k-0000
]

ANSWER_WORD_CASES = [  # no statement: the tail's number, whatever "answer" phrases come before or beside it
    ("Amy gets 8 + 18 = 26 one-point questions right.\nOf the 5 long answer questions: 60% * 5 = 3 right, worth 3 * 5 = 15 points.\n"
     "So she scores 26 + 15 = 41 points.", "41", True),  # gsm8k-0876
    ("Amy gets 8 + 18 = 26 one-point questions right.\nOf the 5 long answer questions: 60% * 5 = 3 right, worth 3 * 5 = 15 points.\n"
     "So she scores 26 + 14 = 40 points.", "41", False),  # gsm8k-0876
    ("Then divide the number of water type Pokemon by the total number of Pokemon and multiply by 100% to express the answer as "
     "a percentage: 32 water type / 96 Pokemon * 100% = 33.333...%, which rounds down to 33%", "33", True),  # gsm8k-0226's own solution
    ("Then divide the combined remora length in feet by the shark's length and multiply by 100% to express the answer as a "
     "percentage: 1 foot / 10 feet * 100% = 10%", "10", True),  # gsm8k-0473's own solution
    ("She has to answer 70 - 36 = 34 questions first.\nThe chances multiply: .6 * .2 * 100% = 12%", "12", True),  # gsm8k-1152
    ("She has to answer 70 - 36 = 34 questions first.\nThe chances multiply: .6 * .2 = .12", "12", False),  # gsm8k-1152
    # "the answer is a …": the article is prose, not a value; the tail's number is read
    ("She makes 9 * 2 = 18 dollars, so the answer is a whole number, 18.", "18", True),  # gsm8k-0000
    ("So the answer is a 12% chance.", "12", True),  # gsm8k-1152
    ("So the answer is a 13% chance.", "12", False),  # gsm8k-1152
]

PERCENT_AND_UNIT_CASES = [  # a percentage or unit anywhere in the answer against a bare gold
    (r"\boxed{(40\%)}", "40", True),  # gsm8k-0728
    (r"\boxed{40\% \text{ blue}}", "40", True),
    (r"\boxed{40 percent}", "40", True),
    (r"\boxed{\text{40\%}}", "40", True),
    (r"\boxed{(45\%)}", "40", False),
    (r"\boxed{0.4}", "40", False),
    ("So the answer is $(40\\%)$.", "40", True),
    ("The answer is 40 percent.", "40", True),
    (r"\boxed{60\%\text{ of the distance}}", "60", True),  # gsm8k-1235
    ("He has covered 3600 / 6000 * 100 = 60 percent of the distance.", "60", True),
    (r"\boxed{25\% \text{ more likely}}", "25", True),  # gsm8k-0184
    (r"\boxed{50\% \text{ discount}}", "25", False),
    (r"\boxed{12 \%}", "12", True),  # gsm8k-1152
    (r"\boxed{(10\%)}", "10", True),  # math500 prealgebra/1233
    (r"\boxed{24 \text{ percent}}", "24", True),  # gsm8k-1030
    (r"\boxed{24\ \%}", "24", True),  # gsm8k-1030, LaTeX's spacing before the sign
    (r"\boxed{12~\%}", "12", True),  # gsm8k-1152
    (r"\boxed{45\,\%}", "40", False),  # gsm8k-0728
]


@pytest.mark.parametrize("response,gold,expected,source", LAST_STATEMENT_CASES, ids=lambda value: repr(value)[:40])
def test_the_answer_stated_last_is_graded(response, gold, expected, source):
    verdict = math_verdict(response, gold)
    assert (verdict.correct, verdict.extracted_by) == (expected, source), verdict


@pytest.mark.parametrize("response,gold,expected", ANSWER_WORD_CASES, ids=lambda value: repr(value)[:40])
def test_answer_phrases_that_state_nothing_do_not_hijack_the_fallback(response, gold, expected):
    verdict = math_verdict(response, gold)
    assert (verdict.correct, verdict.extracted_by) == (expected, "fallback"), verdict


@pytest.mark.parametrize("response,gold,expected", PERCENT_AND_UNIT_CASES, ids=lambda value: repr(value)[:40])
def test_percentages_and_units_in_any_position(response, gold, expected):
    verdict = math_verdict(response, gold)
    assert verdict.correct is expected, verdict
    assert verdict.reason == ("correct" if expected else "mismatch"), verdict  # never grader_error


MMLU_LAST_STATEMENT_CASES = [  # the option stated last, whatever its form (mmlu world_religions-test-013)
    ("\\boxed{A}\n\nOn reflection, the answer is (B).", "B", True),
    ("Answer: (B)\n\nHmm, no: \\boxed{C}", "B", False),
    ("The answer is Daoism.", "B", True),
    ("The answer is Daoism. Wait, no: \\boxed{A}", "B", False),
    ("\\boxed{\\text{Buddhism}}\nActually Daoism fits better, so option B is correct.", "B", True),
    ("To answer this, recall the options.\n**Final Answer**\nB", "B", True),
]


@pytest.mark.parametrize("response,gold,expected", MMLU_LAST_STATEMENT_CASES, ids=lambda value: repr(value)[:40])
def test_the_option_stated_last_is_graded(response, gold, expected):
    verdict = choice_verdict(response, gold, choices=RELIGIONS)
    assert verdict.correct is expected, verdict


# A generation cut off by the length limit (the adapter's `truncated`) before it stated an answer:
# (response, gold, truncated, expected, extracted_by); under `extraction=strict` it is `no_answer`.
TRUNCATED_CASES = [
    ("Janet sells 16 - 3 - 4 = 9 duck eggs a day.\nShe makes 9 * 2 = $18", "18", True, True, "truncated_tail"),  # gsm8k-0000 cut off
    ("Janet sells 16 - 3 - 4 = 9 duck eggs a day.\nShe makes 9 * 2 = $18", "18", False, True, "fallback"),  # the same text, finished
    ("The cost came to 80,000 + 50,000 = $130,000\nHe increased the value by 80,000 * 1.5 = 120,000", "70000", True, False,
     "truncated_tail"),  # gsm8k-0002 cut off: a number from unfinished work
    ("Janet sells 16 - 3 - 4 = 9 duck eggs a day, so the answer is 18.\nLet me verify by", "18", True, True, "fallback"),  # stated, then cut
    ("Janet sells 16 - 3 - 4 = 9 duck eggs a day, so \\boxed{18}. To verify", "18", True, True, "box"),
    ("Janet sells sixteen eggs and", "18", True, False, None),  # nothing to read
]


@pytest.mark.parametrize("response,gold,truncated,expected,source", TRUNCATED_CASES, ids=lambda value: repr(value)[:40])
def test_truncated_outputs_are_marked_and_strict_gives_no_answer(response, gold, truncated, expected, source):
    verdict = math_verdict(response, gold, think_end=None, truncated=truncated)
    assert (verdict.correct, verdict.extracted_by) == (expected, source), verdict
    if source == "truncated_tail":
        strict = math_verdict(response, gold, think_end=None, extraction="strict", truncated=truncated)
        assert (strict.correct, strict.reason, strict.extracted_by) == (False, "no_answer", None), strict
