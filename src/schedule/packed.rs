//! A schedule's choices as a scheduler follows them: 8 bytes a choice rather than 16, for the
//! millions of choices of a long unshrunk schedule.

use super::Choice;

/// Bits of a packed choice that hold its task.
const TASK_BITS: u32 = 16;

/// The choices of a schedule, in order: each packed into one word (its step above, its task
/// below) when every one fits, as they are otherwise.
#[derive(Clone, Debug)]
pub(crate) enum PackedChoices {
    /// `step << TASK_BITS | task` per choice.
    Packed(Vec<u64>),
    /// Choices with a step or task too large to pack.
    Plain(Vec<Choice>),
}

impl PackedChoices {
    /// The choices of `choices`, packed where they fit.
    pub(crate) fn of(choices: &[Choice]) -> PackedChoices {
        let fits = |c: &Choice| c.step >> (64 - TASK_BITS) == 0 && c.task >> TASK_BITS == 0;
        if choices.iter().all(fits) {
            PackedChoices::Packed(
                choices
                    .iter()
                    .map(|c| c.step << TASK_BITS | c.task as u64)
                    .collect(),
            )
        } else {
            PackedChoices::Plain(choices.to_vec())
        }
    }

    /// The choice at `index`, if there is one.
    pub(crate) fn get(&self, index: usize) -> Option<Choice> {
        match self {
            PackedChoices::Packed(words) => words.get(index).map(|&word| Choice {
                step: word >> TASK_BITS,
                task: (word & ((1 << TASK_BITS) - 1)) as usize,
            }),
            PackedChoices::Plain(choices) => choices.get(index).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_choices_give_back_every_choice_even_the_largest() {
        let choices = vec![
            Choice { step: 0, task: 0 },
            Choice { step: 7, task: 3 },
            Choice {
                step: (1 << 48) - 1,
                task: (1 << 16) - 1,
            },
        ];
        let packed = PackedChoices::of(&choices);
        assert!(matches!(packed, PackedChoices::Packed(_)));
        let large = vec![Choice {
            step: u64::MAX,
            task: 1 << 16,
        }];
        let plain = PackedChoices::of(&large);
        assert!(matches!(plain, PackedChoices::Plain(_)));
        for (list, choices) in [(packed, choices), (plain, large)] {
            let back: Vec<Choice> = (0..).map_while(|i| list.get(i)).collect();
            assert_eq!(back, choices);
        }
    }
}
