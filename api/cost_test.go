package api

import (
	"golang.org/x/crypto/bcrypt"

	"github.com/porthouse/porthouse/store"
)

func init() { store.SetPasswordCostForTesting(bcrypt.MinCost) }
